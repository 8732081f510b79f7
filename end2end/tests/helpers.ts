import { expect, Page } from '@playwright/test';

/** Signs in through the page's form and waits until the navigation shows the person. */
export async function signIn(page: Page, email: string, password: string, waitForNav = true) {
  await page.goto('/sign-in');
  const form = page.getByTestId('sign-in-form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  if (waitForNav) await expect(page.getByTestId('nav-user')).toBeAttached();
}
