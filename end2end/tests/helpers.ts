import { expect, Page } from '@playwright/test';

/** Opens a page and waits until it has hydrated (controls respond from then on). */
export async function open(page: Page, url: string) {
  await page.goto(url);
  await expect(page.locator('body[data-hydrated]')).toBeAttached({ timeout: 20_000 });
}

/** Signs in through the page's form and waits until the navigation shows the person. */
export async function signIn(page: Page, email: string, password: string, waitForNav = true) {
  await open(page, '/sign-in');
  const form = page.getByTestId('sign-in-form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  if (waitForNav) await expect(page.getByTestId('nav-user')).toBeAttached();
}

/** Signs up a new customer through the page's form. */
export async function signUp(page: Page, name: string, email: string, password: string) {
  await open(page, '/sign-up');
  const form = page.getByTestId('sign-up-form');
  await form.getByLabel('Your name').fill(name);
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password (8 to 128 characters)').fill(password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByTestId('welcome')).toContainText(name);
}

/** On /checkout: fills the shipping address, places the order and pays with a sandbox card. */
export async function checkoutAndPay(page: Page, name: string, card = '4242 4242 4242 4242') {
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('Street address').fill('9 Quay Street');
  await page.getByLabel('City').fill('Cork');
  await page.getByLabel('Postal code').fill('T12 ABC');
  await page.getByLabel('Country (two letters, e.g. DE)').fill('IE');
  await page.getByRole('button', { name: 'Place order and pay' }).click();
  await expect(page).toHaveURL(/\/pay\//);
  await page.getByTestId('card-number').fill(card);
  await page.getByTestId('pay-button').click();
  await expect(page.getByTestId('pay-result')).toContainText('Payment received', { timeout: 20_000 });
}
