// Drives the console's Brokers view in headless Chromium (Debian's, through playwright-core) against a broker of a
// three-broker cluster in which the test killed one broker and started a reassignment onto it. Usage:
// node console-cluster.mjs <console URL> <screenshot directory> <killed node id>
// Prints one JSON line with what it saw; exits non-zero on any failure or page error.
import { chromium } from 'playwright-core';

const [base, shots, killed] = process.argv.slice(2);
const executablePath = process.env.RUNNEL_CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(30000);
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(base);
  await page.waitForFunction(() => document.querySelector('#cluster-info').textContent.startsWith('cluster '));
  await page.click('nav button[data-tab="brokers"]');
  // The killed broker is listed, as not live; the others are live; the controller is named.
  await page.waitForSelector(`#broker-list tr[data-node="${killed}"]:has-text("not live")`);
  const brokers = await page.$$eval('#broker-list tbody tr', rows => rows.map(r => Array.from(r.cells).map(c => c.textContent)));
  const cards = await page.evaluate(() => ({
    live: document.querySelector('#brokers-live').textContent,
    controller: document.querySelector('#brokers-controller').textContent,
    underReplicated: document.querySelector('#brokers-under-replicated').textContent,
    offline: document.querySelector('#brokers-offline').textContent,
  }));
  // The reassignment onto the killed broker runs and has not caught up.
  await page.waitForSelector('#reassignments tbody tr:has-text("moving")');
  const reassignment = await page.$eval('#reassignments tbody tr', r => Array.from(r.cells).map(c => c.textContent));
  // Replica placement: each partition of "orders" with its replicas and ISR, the killed broker out of the ISR.
  await page.waitForSelector('#placement tr[data-partition="orders-0"]');
  const placement = await page.$$eval('#placement tbody tr', rows => rows.filter(r => r.cells[0].textContent === 'orders')
    .map(r => Array.from(r.cells).map(c => c.textContent)));
  await page.screenshot({ path: `${shots}/console-brokers.png`, fullPage: true });
  // Only partitions with a problem: every partition of the topics shown has the killed broker as a replica.
  await page.check('#placement-problems');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#placement tbody tr')).every(r => r.cells[5].textContent !== 'ok'));
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  console.log(JSON.stringify({ brokers, cards, reassignment, placement }));
} catch (e) {
  console.error(e.stack || String(e), errors);
  process.exitCode = 1;
} finally {
  await browser.close();
}
