/**
 * Charts (recharts): segment size over time, entries/exits, sizes of several segments, experiment
 * results with 95% CIs. A null value (a day before the segment existed) is a gap, not a 0.
 */
import { Bar, BarChart, CartesianGrid, ErrorBar, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

const short = (d: string) => d.slice(5, 10);

/** A line with a single day of values (a segment made today) is a dot: without it nothing would show. */
const lone = (values: readonly (number | null)[]) => (values.filter((v) => v !== null).length === 1 ? { r: 3 } : false);

/** A day of a segment's series; null before the segment existed. */
export interface ChartPoint {
  date: string;
  size: number | null;
  entered: number | null;
  exited: number | null;
}

export function SizeChart({ series }: { series: readonly ChartPoint[] }) {
  return (
    <div className="chart" aria-label="size over time">
      <ResponsiveContainer width="100%" height={220}>
        <LineChart data={series as ChartPoint[]} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e3e6ea" />
          <XAxis dataKey="date" tickFormatter={short} fontSize={12} />
          <YAxis allowDecimals={false} fontSize={12} width={48} />
          <Tooltip />
          <Line type="monotone" dataKey="size" name="members" stroke="#3b5bdb" dot={lone(series.map((p) => p.size))} strokeWidth={2} isAnimationActive={false} connectNulls={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

export function FlowChart({ series }: { series: readonly ChartPoint[] }) {
  const data = series.map((p) => ({ date: p.date, entered: p.entered, exited: p.exited === null ? null : -p.exited }));
  return (
    <div className="chart" aria-label="entries and exits">
      <ResponsiveContainer width="100%" height={220}>
        <BarChart data={data} stackOffset="sign" margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e3e6ea" />
          <XAxis dataKey="date" tickFormatter={short} fontSize={12} />
          <YAxis allowDecimals={false} fontSize={12} width={48} />
          <Tooltip formatter={(v) => Math.abs(Number(v))} />
          <Legend />
          <ReferenceLine y={0} stroke="#999" />
          <Bar dataKey="entered" stackId="s" fill="#2f9e44" isAnimationActive={false} />
          <Bar dataKey="exited" stackId="s" fill="#e03131" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

const PALETTE = ['#3b5bdb', '#e8590c', '#2f9e44', '#ae3ec9', '#1098ad', '#f08c00', '#c2255c', '#5c940d'];

/** Members per day of several segments on one chart (the Insights comparison); nulls are gaps. */
export function CompareChart({ dates, lines }: { dates: readonly string[]; lines: readonly { id: string; name: string; sizes: readonly (number | null)[] }[] }) {
  const data = dates.map((date, i) => Object.fromEntries([['date', date], ...lines.map((l) => [l.id, l.sizes[i] ?? null])]));
  return (
    <div className="chart" aria-label="sizes compared">
      <ResponsiveContainer width="100%" height={240}>
        <LineChart data={data} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e3e6ea" />
          <XAxis dataKey="date" tickFormatter={short} fontSize={12} />
          <YAxis allowDecimals={false} fontSize={12} width={48} />
          <Tooltip />
          <Legend />
          {lines.map((l, i) => <Line key={l.id} type="monotone" dataKey={l.id} name={l.name} stroke={PALETTE[i % PALETTE.length]} dot={lone(l.sizes)} strokeWidth={2} isAnimationActive={false} connectNulls={false} />)}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

export interface ArmResult {
  key: string;
  name: string;
  control: boolean;
  users: number;
  conversions: number;
  rate: number;
  vsControl: { absoluteLift: number; relativeLift: number; ci95: { lower: number; upper: number }; pValue: number } | null;
}

/** Lift of each arm against control, in percentage points, with its 95% interval. */
export function LiftChart({ arms }: { arms: readonly ArmResult[] }) {
  const data = arms.filter((a) => a.vsControl).map((a) => {
    const v = a.vsControl!;
    const lift = v.absoluteLift * 100;
    return { arm: a.name || a.key, lift, ci: [lift - v.ci95.lower * 100, v.ci95.upper * 100 - lift] };
  });
  if (!data.length) return <p className="muted">No arm to compare with the control yet.</p>;
  return (
    <div className="chart" aria-label="lift with confidence intervals">
      <ResponsiveContainer width="100%" height={60 + data.length * 40}>
        <BarChart data={data} layout="vertical" margin={{ top: 8, right: 24, bottom: 8, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e3e6ea" />
          <XAxis type="number" unit=" pp" fontSize={12} />
          <YAxis type="category" dataKey="arm" width={90} fontSize={12} />
          <Tooltip formatter={(v) => `${Number(v).toFixed(2)} pp`} />
          <ReferenceLine x={0} stroke="#666" />
          <Bar dataKey="lift" name="lift vs control" fill="#3b5bdb" isAnimationActive={false}>
            <ErrorBar dataKey="ci" width={6} strokeWidth={2} stroke="#111" direction="x" />
          </Bar>
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
