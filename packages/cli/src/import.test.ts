import { describe, expect, it } from 'vitest';
import { progressLine } from './import.ts';

describe('progressLine', () => {
  it('shows the share sent, rows, rows/s and the ETA from the byte rate', () => {
    expect(progressLine(25, 100, 50_000, 2, 8)).toBe('██░░░░░░  25%  50.0k rows  25.0k rows/s  ETA 00:06');
    expect(progressLine(0, 100, 0, 0, 4)).toBe('░░░░   0%  0 rows  0 rows/s  ETA --:--');
    expect(progressLine(100, 100, 1_200_000, 60, 4)).toBe('████ 100%  1.20M rows  20.0k rows/s  ETA 00:00');
  });
});
