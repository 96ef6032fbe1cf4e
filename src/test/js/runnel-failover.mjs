// runnel.js in headless Chromium (Debian's, through playwright-core) on a page served by one broker of a cluster,
// subscribed to a topic, while the test kills that broker. Usage: node runnel-failover.mjs <broker URL> <topic>
// Prints "ready" once subscribed; then reads commands on stdin, one per line:
//   await <n>   waits until the handler has seen n records, prints {"got": [...], "reconnects": [...]} on one line
//   quit        closes the browser
// Exits non-zero on any failure or page error.
import { chromium } from 'playwright-core';
import readline from 'node:readline';

const [base, topic] = process.argv.slice(2);
const executablePath = process.env.RUNNEL_CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const errors = [];
const logs = [];
let page;
try {
  page = await browser.newPage();
  page.setDefaultTimeout(90000);
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => logs.push(m.type() + ': ' + m.text()));
  await page.goto(base);
  await page.waitForFunction(() => typeof window.Runnel === 'function');
  await page.evaluate(async (t) => {
    window.got = [];
    window.reconnects = [];
    const r = await Runnel.connect(undefined, undefined, { reconnectTimeoutMs: 90000 });
    r.onreconnect = url => window.reconnects.push(url);
    window.runnelClient = r;
    // A handler that takes a moment per record: positions must hold across the move, not only at record boundaries.
    await r.subscribe(t, { from: 'earliest', window: 20 }, rec => new Promise(res => {
      window.got.push(rec.partition + '@' + rec.offset + ':' + rec.value);
      setTimeout(res, 5);
    }));
  }, topic);
  console.log('ready');
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'await') {
      await page.waitForFunction(n => window.got.length >= n, Number(arg));
      const seen = await page.evaluate(() => ({ got: window.got, reconnects: window.reconnects }));
      console.log(JSON.stringify(seen));
    } else if (cmd === 'quit') {
      break;
    }
  }
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
} catch (e) {
  let state = null;
  try {
    state = await page.evaluate(() => ({ got: window.got.length, reconnects: window.reconnects, last: window.got.slice(-5) }));
  } catch (x) {
    // the page is gone
  }
  console.error(e.stack || String(e), errors, JSON.stringify(state), logs.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
  process.exit(process.exitCode ?? 0); // stdin, still open, would keep node running
}
