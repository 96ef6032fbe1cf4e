// A pool of share-group workers in headless Chromium (Debian's, through playwright-core): runnel.js subscriptions of
// one share group on one page, each handling a record in a few milliseconds, accepting it when the handler's promise
// resolves; the record "fail-me" fails once (released: it comes again). Usage:
//   node share-workers.mjs <broker URL> <topic> <group> <workers>
// Prints "ready" once every worker is subscribed; then reads commands on stdin, one per line:
//   dump            prints {"handled": [{worker, value, deliveryCount}], "failed": [deliveryCount...]} on one line
//   console <group> opens the web console in another tab, shows the group and prints
//                   {"members": n, "deliveries": [[cell, ...], ...]} (its deliveries table) on one line
//   stop            unsubscribes every worker (the page leaves the group), prints "stopped"
//   quit            closes the browser
// Exits non-zero on any failure or page error.
import { chromium } from 'playwright-core';
import readline from 'node:readline';

const [base, topic, group, workers] = process.argv.slice(2);
const executablePath = process.env.RUNNEL_CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const errors = [];
let page;
try {
  page = await browser.newPage();
  page.setDefaultTimeout(60000);
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error' && !m.text().includes('boom')) errors.push(m.text()); });
  await page.goto(base);
  await page.waitForFunction(() => typeof window.Runnel === 'function');
  await page.evaluate(async ([t, g, n]) => {
    window.handled = [];
    window.failed = [];
    window.subs = [];
    const r = await Runnel.connect();
    for (let i = 0; i < n; i++) {
      window.subs[i] = await r.subscribe(t, { share: g, window: 5, onerror: e => { if (!String(e).includes('boom')) console.warn(String(e)); } }, rec => new Promise((resolve, reject) => {
        if (rec.value === 'fail-me' && window.failed.length === 0) {
          window.failed.push(rec.deliveryCount);
          setTimeout(() => reject(new Error('boom')), 1);
          return;
        }
        setTimeout(() => {
          window.handled.push({ worker: i, value: rec.value, deliveryCount: rec.deliveryCount });
          resolve();
        }, 3);
      }));
    }
  }, [topic, group, Number(workers)]);
  console.log('ready');
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'stop') {
      await page.evaluate(() => Promise.all(window.subs.map(s => s.close())));
      console.log('stopped');
    } else if (cmd === 'console') {
      const c = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      c.setDefaultTimeout(60000);
      c.on('pageerror', e => errors.push(String(e)));
      await c.goto(base);
      await c.click('nav button[data-tab="groups"]');
      await c.click(`#groups tbody tr:has-text("${arg}")`);
      await c.waitForSelector('#group-share:not([hidden]) #group-deliveries tbody tr');
      const seen = await c.evaluate(() => ({
        members: document.querySelectorAll('#group-members tbody tr').length,
        deliveries: [...document.querySelectorAll('#group-deliveries tbody tr')].map(r => [...r.cells].map(x => x.textContent)),
      }));
      await c.close();
      console.log(JSON.stringify(seen));
    } else if (cmd === 'dump') {
      console.log(JSON.stringify(await page.evaluate(() => ({ handled: window.handled, failed: window.failed }))));
    } else if (cmd === 'quit') {
      break;
    }
  }
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
} catch (e) {
  console.error(String(e && e.stack || e));
  await browser.close();
  process.exit(1);
}
await browser.close();
