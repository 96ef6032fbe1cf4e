// Drives the web console's login in headless Chromium (Debian's, through playwright-core) against a broker with
// http.authentication=required: a wrong password is refused on the page, the right one opens the console, which then
// shows the user and only the topics the ACLs let them describe. Saves a screenshot.
// Usage: node console-login.mjs <console URL> <user> <password> <screenshot directory>
// Prints one JSON line with what it saw; exits non-zero on any failure or page error.
import { chromium } from 'playwright-core';

const [base, user, password, shots] = process.argv.slice(2);
const executablePath = process.env.RUNNEL_CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(20000);
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(base);
  await page.waitForSelector('#login-form', { state: 'visible' });

  await page.fill('#login-user', user);
  await page.fill('#login-password', 'not-the-password');
  await page.click('#login-submit');
  await page.waitForSelector('#login-result.error');
  const refused = await page.textContent('#login-result');

  await page.fill('#login-password', password);
  await Promise.all([page.waitForNavigation(), page.click('#login-submit')]);
  try {
    await page.waitForFunction(() => document.querySelector('#cluster-info').textContent.startsWith('cluster '));
  } catch (e) {
    throw new Error('the console did not load after the login: cluster-info "' + await page.textContent('#cluster-info') + '", login shown: '
      + await page.isVisible('#login-form') + ', cookies: ' + JSON.stringify((await page.context().cookies()).map(c => c.name)));
  }
  const whoami = await page.textContent('#whoami');
  await page.click('nav button[data-tab="topics"]');
  await page.waitForSelector('#topics tbody tr');
  const topics = await page.$$eval('#topics tbody tr[data-topic]', rows => rows.map(r => r.getAttribute('data-topic')));
  await page.screenshot({ path: `${shots}/console-login.png` });

  await Promise.all([page.waitForNavigation(), page.click('#logout')]);
  await page.waitForSelector('#login-form', { state: 'visible' });
  console.log(JSON.stringify({ refused, whoami, topics, loggedOut: true, errors }));
  if (errors.length) process.exitCode = 1;
} finally {
  await browser.close();
}
