// Drives the web console in headless Chromium (Debian's, through playwright-core): creates a topic, starts the live
// tail, produces a record with the form, sees it arrive in the tail and in the message browser, and saves
// screenshots. Usage: node console-browser.mjs <console URL> <screenshot directory>
// Prints one JSON line with what it saw; exits non-zero on any failure or page error.
import { chromium } from 'playwright-core';

const [base, shots] = process.argv.slice(2);
const executablePath = process.env.RUNNEL_CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20000);
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(base);
  await page.waitForFunction(() => document.querySelector('#cluster-info').textContent.startsWith('cluster '));

  // Create a topic with the form.
  await page.click('nav button[data-tab="topics"]');
  await page.fill('#create-topic-name', 'console-demo');
  await page.fill('#create-topic-partitions', '2');
  await page.click('#create-topic-submit');
  await page.waitForSelector('#create-topic-result.ok');
  await page.waitForSelector('#topics tr[data-topic="console-demo"]');

  // Start the live tail on it (over the WebSocket, with runnel.js).
  await page.click('nav button[data-tab="tail"]');
  await page.waitForSelector('#tail-topic option[value="console-demo"]', { state: 'attached' });
  await page.selectOption('#tail-topic', 'console-demo');
  await page.click('#tail-start');
  await page.waitForFunction(() => document.querySelector('#tail-status').textContent.startsWith('tailing console-demo'));

  // Produce a record with the form.
  await page.click('nav button[data-tab="produce"]');
  await page.selectOption('#produce-topic', 'console-demo');
  await page.fill('#produce-key', 'order-17');
  await page.fill('#produce-value', '{"item":"kettle","qty":2}');
  await page.fill('#produce-headers', 'source=console');
  await page.click('#produce-submit');
  await page.waitForSelector('#produce-result.ok');
  const produced = await page.textContent('#produce-result');
  const partition = Number(/partition (\d+)/.exec(produced)[1]);

  // It arrives in the live tail.
  await page.click('nav button[data-tab="tail"]');
  const row = await page.waitForSelector('#tail-records tr.tail-record:has-text("kettle")');
  const tailText = await row.textContent();
  await page.screenshot({ path: `${shots}/console-tail.png` });

  // And the message browser finds it by partition and offset.
  await page.click('nav button[data-tab="messages"]');
  await page.selectOption('#browse-topic', 'console-demo');
  await page.fill('#browse-partition', String(partition));
  await page.click('#browse button[type="submit"]');
  await page.waitForSelector('#messages tbody tr:has-text("order-17")');

  // Transactions (written by the test with a Kafka producer): committed, aborted and still-open records told apart.
  await page.selectOption('#browse-topic', 'console-txn');
  await page.fill('#browse-partition', '0');
  await page.selectOption('#browse-from', 'earliest');
  await page.click('#browse button[type="submit"]');
  await page.waitForSelector('#messages tbody tr:has-text("pending")');
  const txnRows = await page.$$eval('#messages tbody tr', rows => rows.map(r => ({
    value: r.children[3].textContent, transaction: r.children[5].textContent, rowClass: r.className })));
  await page.screenshot({ path: `${shots}/console-transactions.png` });

  // The overview with its throughput chart.
  await page.click('nav button[data-tab="overview"]');
  await page.waitForFunction(() => document.querySelector('#rate-in').textContent !== '–');
  await page.screenshot({ path: `${shots}/console-overview.png` });

  // runnel.js from a page's own script: produce, subscribe in a consumer group, commit.
  const js = await page.evaluate(async () => {
    const r = await Runnel.connect();
    const results = await r.produce('console-demo', [{ key: 'a', value: 'one' }, { key: 'b', value: { n: 2 } }, { value: 'three', partition: 0 }]);
    const seen = [];
    let sub;
    await new Promise((resolve, reject) => {
      r.subscribe('console-demo', { group: 'js-group', from: 'earliest', window: 10 }, rec => {
        seen.push(rec.value);
        if (seen.length === 4) resolve();
      }).then(s => { sub = s; }, reject);
      setTimeout(() => reject(new Error('only ' + seen.length + ' records arrived')), 15000);
    });
    const committed = await sub.commit();
    await sub.close();
    // One produce call as a transaction: all its records or none.
    const txn = await r.produce('console-demo', [{ key: 't1', value: 'in-txn', partition: 1 }, { key: 't2', value: 'in-txn', partition: 0 }],
      { transactionalId: 'page-txn' });
    r.close();
    return { offsets: results.map(x => x.offset), seen: seen.sort(), committed: committed.offsets, txn: txn.map(x => x.offset) };
  });
  // A replica the test took offline (an I/O error): the topic's partition table says so.
  await page.click('nav button[data-tab="topics"]');
  await page.click('#topics tr[data-topic="console-offline"]');
  await page.waitForSelector('#topic-partitions td.offline');
  const offlineRow = await page.$eval('#topic-partitions tbody tr', r => r.textContent);
  await page.screenshot({ path: `${shots}/console-offline.png` });
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  console.log(JSON.stringify({ produced, partition, tail: tailText, js, txnRows, offlineRow }));
} catch (e) {
  console.error(e.stack || String(e), errors);
  process.exitCode = 1;
} finally {
  await browser.close();
}
