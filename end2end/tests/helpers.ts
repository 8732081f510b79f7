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
