import { expect, test, Page } from '@playwright/test';
import * as fs from 'node:fs';
import { totp } from './totp';
import { open, signIn as signInWith } from './helpers';

const signIn = (page: Page, email: string, password: string) => signInWith(page, email, password, false);

const unique = (tag: string) => `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;


test('the page hydrates: the password toggle works without a page load @phone', async ({ page }) => {
  await open(page, '/sign-up');
  // a marker on window survives only if no full page load happens
  await page.evaluate(() => ((window as any).__marker = 'still here'));
  const password = page.getByLabel('Password (8 to 128 characters)');
  await expect(password).toHaveAttribute('type', 'password');
  await page.getByTestId('toggle-password').click();
  await expect(password).toHaveAttribute('type', 'text');
  expect(await page.evaluate(() => (window as any).__marker)).toBe('still here');
});

test('a customer signs up, enables MFA, signs out and signs in again with a TOTP code @phone', async ({ page }) => {
  const email = unique('journey');
  const password = 'a good long password';

  await open(page, '/sign-up');
  const form = page.getByTestId('sign-up-form');
  await form.getByLabel('Your name').fill('Journey Tester');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password (8 to 128 characters)').fill(password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByTestId('welcome')).toContainText('Journey Tester');

  // a bad field shows its error next to it
  await open(page, '/account');
  await expect(page.getByTestId('role')).toHaveText('customer');
  await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  const secret = (await page.getByTestId('mfa-secret').textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  // `./bespoke test` checks afterwards that no secret typed here is stored in clear
  if (process.env.BESPOKE_DATA_DIR) fs.appendFileSync(`${process.env.BESPOKE_DATA_DIR}/typed-secrets.txt`, `${secret}\n`);
  await page.getByLabel('Code').fill(totp(secret));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByTestId('recovery-codes').locator('li')).toHaveCount(10);
  await expect(page.getByTestId('mfa-on')).toBeVisible();

  // sign out from the navigation (on a phone it sits behind the menu button)
  const toggle = page.getByTestId('menu-toggle');
  if (await toggle.isVisible()) await toggle.click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('main').getByRole('link', { name: 'Create an account' })).toBeVisible();

  await signIn(page, email, password);
  const mfa = page.getByTestId('mfa-form');
  await expect(mfa).toBeVisible();
  // the enrolment code was spent; the next step's code is inside the drift window and unused
  await mfa.getByLabel('Code').fill(totp(secret, 1));
  await mfa.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByTestId('welcome')).toContainText('Journey Tester');
});

test('wrong credentials show a clear message and keep the form', async ({ page }) => {
  await signIn(page, unique('nobody'), 'not the password');
  await expect(page.getByTestId('error-banner')).toContainText('email or password is wrong');
  await expect(page.getByTestId('sign-in-form')).toBeVisible();
});

test('sign-up errors appear next to the field', async ({ page }) => {
  await open(page, '/sign-up');
  const form = page.getByTestId('sign-up-form');
  await form.getByLabel('Your name').fill('Dup');
  await form.getByLabel('Email').fill('admin@bespoke.test');
  await form.getByLabel('Password (8 to 128 characters)').fill('long enough pw');
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page.locator('#field-email-error')).toHaveText('an account with this email already exists');
});

test('a dealer applies and an admin approves the store', async ({ browser }) => {
  const email = unique('dealer');
  const dealer = await browser.newPage();
  await open(dealer, '/sign-up?as=dealer');
  const form = dealer.getByTestId('sign-up-form');
  await form.getByLabel('Your name').fill('Pending Potter');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password (8 to 128 characters)').fill('dealer password');
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(dealer.getByTestId('dealer-status')).toHaveText('pending');

  const admin = await browser.newPage();
  await signIn(admin, 'admin@bespoke.test', 'bespoke-demo');
  await expect(admin.getByTestId('nav-user')).toBeVisible();
  await open(admin, '/admin?tab=dealers');
  const row = admin.getByTestId('pending-dealers').locator('li', { hasText: email });
  await row.getByRole('button', { name: 'Approve' }).click();
  await expect(admin.getByTestId('pending-dealers').locator('li', { hasText: email })).toHaveCount(0);

  await dealer.reload();
  await expect(dealer.getByTestId('dealer-status')).toHaveText('approved');

  // the approval reached the dealer as a notification, through the event backbone
  await expect(dealer.getByTestId('unread-count')).toHaveText('2');
  await dealer.getByRole('link', { name: /Notifications/ }).click();
  await expect(dealer.getByTestId('notifications')).toContainText('Your store is approved');
  await expect(dealer.getByTestId('notifications')).toContainText('Your dealer application is in');
  await dealer.getByRole('button', { name: 'Mark all as read' }).click();
  await expect(dealer.getByRole('button', { name: 'Mark all as read' })).toHaveCount(0);
});
