// Drives Cairn's web interface in headless Chromium through playwright-core,
// as TestBrowser in ../e2e_test.go runs it. Everything it needs comes from
// the environment:
//
//   CAIRN_PLAYWRIGHT  node_modules directory holding playwright-core
//   CAIRN_CHROMIUM    the Chromium executable
//   CAIRN_URL         the server's base URL
//   CAIRN_EMAIL, CAIRN_PASSWORD   an administrator's credentials
//   CAIRN_RULE        name of the alert rule to create
//   CAIRN_RULE_EMAIL  the address the rule mails
//   CAIRN_EXPECTED    JSON list of the crashing stack's function names,
//                     innermost first ("name*" as in fixtures.CrashFixture)
//   CAIRN_ARTIFACTS   directory for screenshots
//   CAIRN_WAIT_MS     how long the issue may take to appear
//
// Protocol with the Go side, one line each on standard output:
//   "step <name> <ms>"  a step finished, with its duration
//   "rule-created"      the alert rule exists: send the crash now
//   "issue <id> <url>"  the issue the crash made, once resolved
//   "error <message>"   a problem the walk went on past; the test fails
// On failure the script prints the page's text, saves failure.png and
// exits with status 1.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`ui.mjs: ${name} is not set`);
  return v;
};
const require = createRequire(import.meta.url);
const { chromium } = require(path.join(env('CAIRN_PLAYWRIGHT'), 'playwright-core'));

const base = env('CAIRN_URL');
const artifacts = env('CAIRN_ARTIFACTS');
const expected = JSON.parse(env('CAIRN_EXPECTED'));
const ruleName = env('CAIRN_RULE');
const waitIssue = Number(process.env.CAIRN_WAIT_MS || 60000);

// Each wait in the page is bounded; a hung page fails within this.
const stepTimeout = 15000;

const browser = await chromium.launch({
  executablePath: env('CAIRN_CHROMIUM'),
  headless: true,
  chromiumSandbox: false,
  // Without the background-networking flags Chromium keeps dialing
  // Google's hosts, which this closed network refuses.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(stepTimeout);
context.setDefaultNavigationTimeout(stepTimeout);
const page = await context.newPage();
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));
page.on('console', (m) => {
  // A failed request is reported with its address below, not here.
  if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text());
});
// Chromium asks for /favicon.ico on its own; Cairn has none.
page.on('response', (r) => {
  if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico') {
    consoleErrors.push(`${r.request().method()} ${r.url()} → HTTP ${r.status()}`);
  }
});
// Requests and their answers, newest last, for the failure report.
const requests = [];
page.on('response', (r) => {
  requests.push(`${r.request().method()} ${r.url()} → ${r.status()}`);
  if (r.status() >= 400) console.error(`HTTP ${r.status()} ${r.url()}`);
  if (requests.length > 20) requests.shift();
});

const shot = async (name) => {
  const file = path.join(artifacts, name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  return file;
};

// A failure.png from an earlier run would mislead whoever reads the directory.
fs.rmSync(path.join(artifacts, 'failure.png'), { force: true });

let started = Date.now();
const step = (name) => {
  const now = Date.now();
  console.log(`step ${name} ${now - started}`);
  started = now;
};

class Failure extends Error {}
const fail = (msg) => { throw new Failure(msg); };
// softFail reports a problem the walk can get past, as t.Errorf does: the
// Go side fails the test and the remaining pages are still checked.
const softFail = (msg) => console.log('error ' + msg.replaceAll('\n', ' '));

// functionNames reads the Function column of the first frames table.
const functionNames = async () =>
  page.locator('table.frames').first().locator('td.fn').allInnerTexts();

// matches tells whether want (innermost first, "name*" for one or more
// frames) appears in got as a run, ignoring the inlined badge and frames
// of system libraries before and after it.
const matches = (got, want) => {
  const names = got.map((s) => s.replace(/^inlined\s+/, '').trim());
  for (let start = 0; start < names.length; start++) {
    let i = start;
    let ok = true;
    for (const w of want) {
      const many = w.endsWith('*');
      const n = many ? w.slice(0, -1) : w;
      if (names[i] !== n) { ok = false; break; }
      i++;
      while (many && names[i] === n) i++;
    }
    if (ok) return true;
  }
  return false;
};

try {
  // Sign in.
  await page.goto(base + '/');
  await page.waitForURL(/\/login/);
  await page.getByLabel('Email').fill(env('CAIRN_EMAIL'));
  await page.getByLabel('Password').fill(env('CAIRN_PASSWORD'));
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.getByRole('button', { name: 'Sign in' }).click()]);
  if (await page.locator('p.error').count()) fail('sign-in refused: ' + await page.locator('p.error').innerText());
  step('login');

  // A "new issue → email" rule, made the way a user makes it.
  await page.goto(base + '/o/default/default/');
  await page.getByRole('link', { name: 'Alerts', exact: true }).click();
  await page.waitForURL(/\/alerts$/);
  const form = page.locator('form.box');
  await form.getByLabel('Name').fill(ruleName);
  await form.getByLabel('When').selectOption('new_issue');
  await form.getByLabel('Addresses').fill(env('CAIRN_RULE_EMAIL'));
  // The browser refuses to submit a form with an invalid field, silently
  // for a script: name the fields, then fill them as the browser's hint
  // tells a user to, and go on.
  const invalid = await form.evaluate((f) => [...f.elements]
    .filter((e) => e.willValidate && !e.checkValidity())
    .map((e) => ({ name: e.name, label: e.closest('label')?.innerText.trim() ?? '', message: e.validationMessage })));
  if (invalid.length) {
    softFail('Alerts page: the browser blocks the new-rule form for a "new issue" rule: ' +
      invalid.map((e) => `${e.name} ("${e.label}"): ${e.message}`).join('; '));
    for (const e of invalid) {
      const input = form.locator(`[name="${e.name}"]`);
      if ((await input.getAttribute('type')) !== 'number') fail(`field ${e.name} is invalid: ${e.message}`);
      await input.fill((await input.getAttribute('min')) || '1');
    }
  }
  await Promise.all([page.waitForLoadState('load'), form.getByRole('button', { name: 'Create rule' }).click()]);
  const rule = page.locator('table.rules tr', { hasText: ruleName });
  await rule.waitFor();
  const ruleText = await rule.innerText();
  if (!ruleText.includes('a new issue is created') || !ruleText.includes(env('CAIRN_RULE_EMAIL'))) {
    fail(`the rule row reads ${JSON.stringify(ruleText)}`);
  }
  await shot('alerts');
  step('alert-rule');
  console.log('rule-created');

  await page.goto(base + '/o/default/default/settings/');
  await page.locator('main h1').waitFor();
  await shot('settings');
  step('settings');

  // The issue list, reloaded until the crash's issue shows.
  await page.goto(base + '/o/default/default/');
  const title = page.locator('table.issues a.title').first();
  const deadline = Date.now() + waitIssue;
  while (!(await title.isVisible())) {
    if (Date.now() > deadline) fail(`no issue appeared in the list within ${waitIssue} ms`);
    await page.waitForTimeout(250);
    await page.reload();
  }
  await shot('issue-list');
  step('issue-list');

  await Promise.all([page.waitForURL(/\/issues\/\d+\/$/), title.click()]);
  const issueURL = page.url();
  const issueID = issueURL.match(/\/issues\/(\d+)\/$/)[1];
  // The stack's own view links; the histogram has a toggle of its own.
  const views = page.locator('h2', { hasText: 'Stack trace' }).locator('.toggle a');
  await views.first().waitFor();
  const mode = async () => (await views.and(page.locator('.active')).innerText()).trim();
  const firstMode = await mode();
  let got = await functionNames();
  if (!matches(got, expected)) fail(`${firstMode} view: the crashing stack ${JSON.stringify(got)} lacks ${JSON.stringify(expected)}`);
  await shot('issue-' + firstMode.toLowerCase());
  step('issue-' + firstMode.toLowerCase());

  // Every other view of the stack, through its link.
  for (const label of ['In-app', 'Full', 'Raw', 'Unsymbolicated']) {
    if (label === firstMode) continue;
    const link = views.filter({ hasText: label });
    if (!(await link.count())) {
      if (label === 'In-app') continue; // shown only when some frame is in the app
      fail(`no "${label}" link among the stack views`);
    }
    await Promise.all([page.waitForURL(/[?&]view=/), link.click()]);
    await views.and(page.locator('.active')).filter({ hasText: label }).waitFor();
    if (label === 'Raw') {
      const raw = await page.locator('pre.raw').innerText();
      for (const fn of expected) {
        if (!raw.includes(fn.replace(/\*$/, ''))) fail(`raw view lacks ${fn}:\n${raw.slice(0, 2000)}`);
      }
    } else if (label === 'Unsymbolicated') {
      const rows = await page.locator('table.frames.unsym tbody tr').allInnerTexts();
      if (rows.length === 0) fail('unsymbolicated view shows no frames');
      if (rows.some((r) => expected.some((fn) => r.includes(fn.replace(/\*$/, ''))))) {
        fail(`unsymbolicated view shows function names: ${JSON.stringify(rows)}`);
      }
    } else {
      got = await functionNames();
      if (!matches(got, expected)) fail(`${label} view: the crashing stack ${JSON.stringify(got)} lacks ${JSON.stringify(expected)}`);
    }
    await shot('issue-' + label.toLowerCase());
    step('view-' + label.toLowerCase());
  }

  // The candidate list of an image whose debug file is missing.
  const missing = page.locator('table.images tbody tr.problem', { has: page.locator('.st-missing') }).first();
  if (!(await missing.count())) {
    fail('no loaded image has debug status "missing": ' + JSON.stringify(await page.locator('table.images tbody tr').allInnerTexts()));
  }
  const moduleName = (await missing.locator('td.module').innerText()).trim();
  const advice = missing.locator('xpath=following-sibling::tr[1]');
  const why = advice.locator('details.why');
  if (await why.evaluate((d) => d.open)) fail('the candidate list of ' + moduleName + ' is open before a click');
  await why.locator('summary', { hasText: 'Why, and how to fix it' }).click();
  await why.locator('p.fix').first().waitFor();
  const whyText = await why.innerText();
  if (!whyText.includes('cairn upload')) fail(`the explanation for ${moduleName} names no fix: ${whyText}`);
  if (!(await why.locator('table.candidates, p.muted').count())) fail(`no candidate list for ${moduleName}: ${whyText}`);
  await advice.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(artifacts, 'candidates.png') });
  step('candidates');

  // Resolve from the issue page.
  await Promise.all([page.waitForLoadState('load'), page.locator('form.bulk').getByRole('button', { name: 'Resolve', exact: true }).click()]);
  await page.locator('dl.facts dd', { hasText: /^resolved$/ }).waitFor();
  step('resolve');

  if (consoleErrors.length) fail('the pages logged errors: ' + consoleErrors.join('\n'));
  console.log(`issue ${issueID} ${issueURL}`);
  await browser.close();
} catch (e) {
  let text = '';
  let file = '';
  try {
    text = await page.locator('body').innerText({ timeout: 2000 });
    file = await shot('failure');
  } catch (e2) {
    text = `(page unreadable: ${e2.message})`;
  }
  console.error(`FAIL at ${page.url()}: ${e instanceof Failure ? e.message : e.stack}`);
  if (file) console.error(`screenshot: ${file}`);
  console.error(`recent requests:\n  ${requests.join('\n  ')}`);
  console.error(`page text:\n${text.slice(0, 4000)}`);
  await browser.close().catch(() => {});
  process.exit(1);
}
