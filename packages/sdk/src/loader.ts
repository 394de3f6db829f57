/**
 * The asynchronous loader snippet (docs/sdk.md): defines `window.strata` at once, queueing calls
 * (each returns a promise of its result) until `/sdk/strata.min.js` has loaded and replayed them.
 * Options beyond the host and key: set `strata.config.flushInterval = …` right after it.
 */
export function loaderSnippet(apiHost: string, writeKey: string): string {
  return '!function(w,d,h,k){var s=w.strata=w.strata||[];if(s.version)return;s.config={apiHost:h,writeKey:k};'
    + '"identify track page reset flush user targeting experience".split(" ").forEach(function(m){s[m]=function(){var a=arguments;'
    + 'return new Promise(function(r){s.push([m,a,r])})}});var t=d.createElement("script");t.async=!0;t.src=h+"/sdk/strata.min.js";'
    + `d.head.appendChild(t)}(window,document,${JSON.stringify(apiHost)},${JSON.stringify(writeKey)});`;
}
