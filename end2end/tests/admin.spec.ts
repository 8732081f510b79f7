import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import { open, signIn, signUp } from './helpers';

const unique = (tag: string) => `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;

// `./bespoke test` starts the server with a mail spool directory that does not exist yet: every mail
// delivery fails into a dead letter until this journey creates the directory and re-drives one.
const spool = process.env.BESPOKE_MAIL__SPOOL_DIR;

test('an admin approves a dealer, re-drives a dead letter and suspends a customer whose session then fails', async ({ browser }) => {
  // a dealer applies
  const dealerEmail = unique('applicant');
  const dealer = await browser.newPage();
  await open(dealer, '/sign-up?as=dealer');
  const form = dealer.getByTestId('sign-up-form');
  await form.getByLabel('Your name').fill('Applying Ana');
  await form.getByLabel('Email').fill(dealerEmail);
  await form.getByLabel('Password (8 to 128 characters)').fill('dealer password');
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(dealer.getByTestId('dealer-status')).toHaveText('pending');
  const dealerId = (await (await dealer.request.get('/api/v1/me')).json()).id as string;

  // the admin approves it
  const admin = await (await browser.newContext()).newPage();
  await signIn(admin, 'admin@bespoke.test', 'bespoke-demo');
  await open(admin, '/admin?tab=dealers');
  await admin.getByTestId('pending-dealers').locator('li', { hasText: dealerEmail }).getByRole('button', { name: 'Approve' }).click();
  await expect(admin.getByTestId('pending-dealers').locator('li', { hasText: dealerEmail })).toHaveCount(0);
  await dealer.reload();
  await expect(dealer.getByTestId('dealer-status')).toHaveText('approved');

  // the approval's mail could not be delivered: a dead letter, re-driven once the spool is back
  expect(spool, 'the mail spool fault that ./bespoke test sets up').toBeTruthy();
  const deadRow = admin.getByTestId('dead-letter').filter({ hasText: 'accounts.DealerApproved' }).filter({ hasText: dealerId });
  await expect(async () => {
    await open(admin, '/admin?tab=events');
    await expect(deadRow).toHaveCount(1, { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(admin.getByTestId('outbox-lag')).toBeVisible();
  fs.mkdirSync(spool!, { recursive: true });
  await deadRow.getByRole('button', { name: 'Re-drive' }).click();
  await expect(admin.getByText('Re-driven: the consumer will try it again now.')).toBeVisible();
  await expect(deadRow).toHaveCount(0);
  await expect.poll(() => fs.readdirSync(spool!).filter((f) => f.endsWith('.eml'))
    .some((f) => fs.readFileSync(`${spool}/${f}`, 'utf8').includes(dealerId)), { timeout: 15_000 }).toBe(true);

  // a customer is signed in and browsing
  const customerEmail = unique('suspect');
  const customer = await (await browser.newContext()).newPage();
  await signUp(customer, 'Suspect Sam', customerEmail, 'customer password');
  await open(customer, '/orders');
  expect((await customer.request.get('/api/v1/me')).status()).toBe(200);

  // the admin finds and suspends them
  await open(admin, '/admin?tab=users');
  await admin.getByTestId('user-search').getByLabel('Email or name').fill(customerEmail);
  await admin.getByTestId('user-search').getByRole('button', { name: 'Search' }).click();
  const row = admin.getByTestId('user-row').filter({ hasText: customerEmail });
  await expect(row).toHaveCount(1);
  await row.getByLabel('Reason for the suspension').fill('chargeback fraud');
  await row.getByRole('button', { name: 'Suspend' }).click();
  await expect(row.getByTestId('suspended')).toBeVisible();

  // the customer's open session fails at once
  expect((await customer.request.get('/api/v1/me')).status()).toBe(401);
  await customer.reload();
  await expect(customer.getByRole('link', { name: 'Sign in' }).first()).toBeVisible();
  await expect(customer.getByTestId('nav-user')).toHaveCount(0);

  // and the audit log shows what happened, with the reason
  await open(admin, '/admin?tab=audit&action=user.suspended');
  await expect(admin.getByTestId('audit-row').first()).toContainText('chargeback fraud');
});

test('the admin dashboard shows the figures and charts @phone', async ({ page }) => {
  await signIn(page, 'admin@bespoke.test', 'bespoke-demo');
  await open(page, '/admin');
  await expect(page.getByTestId('kpi')).toHaveCount(8);
  await expect(page.getByTestId('kpi').filter({ hasText: 'Accounts' })).toContainText(/\d/);
  await expect(page.getByTestId('kpi-chart')).toHaveCount(4);
  await expect(page.getByTestId('kpi-chart').first().locator('rect')).toHaveCount(30);
  await page.getByRole('link', { name: '7 days' }).click();
  await expect(page.getByTestId('kpi-chart').first().locator('rect')).toHaveCount(7);
  // nothing overflows a phone's width
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(1);
});

test('an admin trains a recommendation model and follows its progress @phone', async ({ page }) => {
  await signIn(page, 'admin@bespoke.test', 'bespoke-demo');
  await open(page, '/admin?tab=recommendations');
  // the seed's shoppers left a browsing history, and the seed trained a first model on it
  await expect(page.getByTestId('rec-new-signals')).toContainText('new signals since the last training');
  const models = page.getByTestId('rec-model');
  await expect(models.first()).toBeVisible();
  const before = await models.count();
  await page.getByTestId('rec-train').click();
  // the progress card follows the run live, then says how it ended; the new model is listed
  await expect(page.getByTestId('rec-training')).toBeVisible();
  await expect(page.getByTestId('rec-training')).toContainText('The last training finished', { timeout: 45_000 });
  await expect(models).toHaveCount(before + 1);
  await expect(page.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(1);
});
