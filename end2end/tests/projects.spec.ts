import { expect, test, type Page } from "@playwright/test";

const PASSWORD = "correct horse battery";

function uniqueEmail(label: string): string {
  return `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the WASM has hydrated the page, i.e. until it is interactive. */
async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
}

async function signUp(page: Page, email: string) {
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Your projects" })).toBeVisible();
  await hydrated(page);
}

async function createProject(page: Page, name: string, format = "9:16") {
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Format").selectOption(format);
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
}

function card(page: Page, name: string) {
  return page.locator(".project-card").filter({ has: page.getByRole("link", { name, exact: true }) });
}

test("a user signs up, manages projects, logs out and finds them again", async ({ page }) => {
  const email = uniqueEmail("ada");
  await signUp(page, email);
  await expect(page.getByText("No projects yet")).toBeVisible();

  // Creating a project opens it at its first step.
  await createProject(page, "Aurora launch", "16:9");
  await expect(page).toHaveURL(/\/projects\/[0-9a-f-]{36}$/);
  const current = page.getByRole("list", { name: "Project steps" }).locator('[aria-current="step"]');
  await expect(current).toContainText("Vision & brief");

  await page.getByRole("link", { name: "All projects", exact: true }).click();
  await createProject(page, "Second project");
  await page.getByRole("link", { name: "All projects", exact: true }).click();
  await expect(page.locator(".project-card")).toHaveCount(2);

  // Rename inline: the field opens focused (only with the WASM running), Enter saves.
  await page.getByRole("button", { name: "Rename Aurora launch" }).click();
  const field = page.getByLabel("New name for Aurora launch");
  await expect(field).toBeFocused();
  await field.fill("Aurora headphones launch");
  await field.press("Enter");
  await expect(card(page, "Aurora headphones launch")).toBeVisible();
  await expect(card(page, "Aurora headphones launch")).toContainText("16:9");

  await page.getByRole("button", { name: "Duplicate Second project" }).click();
  await expect(card(page, "Second project (copy)")).toBeVisible();

  // Deleting asks first; cancelling keeps the project.
  await page.getByRole("button", { name: "Delete Second project (copy)" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete this project?" });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText("Second project (copy)");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(card(page, "Second project (copy)")).toBeVisible();

  await page.getByRole("button", { name: "Delete Second project (copy)" }).click();
  await dialog.getByRole("button", { name: "Delete project" }).click();
  await expect(card(page, "Second project (copy)")).toHaveCount(0);
  await expect(page.locator(".project-card")).toHaveCount(2);

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  // The log-in page loads the main part of the bundle only, not the wizard's parts.
  await expect(page.locator('link[rel="preload"][href*="/split_"]')).toHaveCount(0);

  await page.getByLabel("Email").fill(email.toUpperCase());
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Your projects" })).toBeVisible();
  await expect(card(page, "Aurora headphones launch")).toBeVisible();
  await expect(card(page, "Second project")).toBeVisible();
  await expect(page.locator(".project-card")).toHaveCount(2);
});

test("a wrong password shows why and stays on the log-in page", async ({ page }) => {
  const email = uniqueEmail("bob");
  await signUp(page, email);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not my password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toContainText("do not match");
  await expect(page).toHaveURL(/\/login$/);
});

test("projects can be handled from the keyboard alone", async ({ page }) => {
  await signUp(page, uniqueEmail("kim"));
  await createProject(page, "Keyboard ad");
  await page.getByRole("link", { name: "All projects", exact: true }).click();

  const rename = page.getByRole("button", { name: "Rename Keyboard ad" });
  await rename.focus();
  await page.keyboard.press("Enter");
  const field = page.getByLabel("New name for Keyboard ad");
  await expect(field).toBeFocused();
  await page.keyboard.type(" (draft)");
  await page.keyboard.press("Escape");
  await expect(card(page, "Keyboard ad")).toBeVisible();

  await page.getByRole("button", { name: "Delete Keyboard ad" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Delete this project?" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(card(page, "Keyboard ad")).toBeVisible();
});

test("the dashboard fits a phone screen", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signUp(page, uniqueEmail("pia"));
  await createProject(page, "A rather long project name that has to wrap on a phone screen");
  await page.getByRole("link", { name: "All projects", exact: true }).click();
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.getByRole("button", { name: "Create project" })).toBeInViewport();
});

test("a step whose code cannot be downloaded says so, and the server hears of it", async ({ page }) => {
  await signUp(page, uniqueEmail("ola"));
  // The network fails just as the brief step's part of the bundle is fetched.
  await page.route(/\/split_brief_step_[^/]*\.wasm$/, (route) => route.abort("internetdisconnected"));
  const reported = page.waitForRequest(
    (request) =>
      request.url().endsWith("/api/client-problems") && (request.postData() ?? "").includes('"part_download"'),
  );
  await page.getByLabel("Name", { exact: true }).fill("Offline launch");
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "could not be downloaded" })).toContainText(
    "Check your connection",
  );
  await reported;
});
