import { expect, test, type Page } from "@playwright/test";
import path from "node:path";

const PASSWORD = "correct horse battery";

/** Set SCREENSHOTS=dir to keep a picture of each screen (for reviewing the design). */
async function snap(page: Page, name: string) {
  const dir = process.env.SCREENSHOTS;
  if (dir) await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
}

/** Opens the step at `path` and reloads it a few times: each time the server writes the
 * step itself (`shown` is in its HTML, not a "Loading…" fallback that the browser would
 * fail to hydrate with the step's data) and the page comes alive with no error. A page
 * that fails to hydrate looks right but does nothing; the race behind it showed on
 * about one load in two. */
async function survivesReloads(page: Page, path: string, shown: string) {
  const errors: string[] = [];
  const onError = (error: Error) => errors.push(error.message);
  page.on("pageerror", onError);
  for (let i = 0; i < 4; i++) {
    const response = i === 0 ? await page.goto(path) : await page.reload();
    expect(await response!.text()).toContain(shown);
    await hydrated(page);
  }
  page.off("pageerror", onError);
  expect(errors).toEqual([]);
}

const ANSWERS = [
  "It's called Lumen, a desk lamp that adapts its light to your day.",
  "Remote workers who spend long hours at a desk",
  "Calm, focused",
  "Light that follows your day\nNo glare on screens\nSet up in 30 seconds",
  "Order yours today",
];

test("a user takes a project from an empty chat to approved clips, watched live from a second page", async ({
  page,
  browser,
}) => {
  test.setTimeout(300_000);
  const email = `director-${Date.now()}@example.com`;
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Your projects" })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("Name", { exact: true }).fill("Lumen launch");
  await page.getByLabel("Format").selectOption("1:1");
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Lumen launch" })).toBeVisible();
  await hydrated(page);

  // Step 1: the director asks, the reply streams in, the brief fills up.
  const chat = page.getByRole("list", { name: "Conversation" });
  const input = page.getByLabel("Your message");
  for (const [i, answer] of ANSWERS.entries()) {
    await input.fill(answer);
    await page.getByRole("button", { name: "Send" }).click();
    // Each answer gets a reply: opening question + i + 1 answers and replies.
    await expect(chat.locator(".bubble-assistant:not(.bubble-streaming)")).toHaveCount(i + 2, { timeout: 20_000 });
  }
  await expect(chat).toContainText("Here's the brief I have");
  await expect(page.getByLabel("Product name")).toHaveValue("Lumen");
  await expect(page.getByLabel("Call to action")).toHaveValue("Order yours today");
  // Product photos: a file that is not an image is refused by its content, a real
  // photo uploads with progress, shows as the main photo and is cut out of its
  // plain background.
  const picker = page.getByLabel("Choose photos");
  await picker.setInputFiles(path.join(__dirname, "..", "fixtures", "notes.png"));
  await expect(page.getByRole("alert")).toContainText("PNG, JPEG or WebP");
  await picker.setInputFiles(path.join(__dirname, "..", "fixtures", "lamp.png"));
  const shelf = page.getByRole("list", { name: "Product photos" });
  const photo = shelf.getByRole("img", { name: "Photo 1: lamp.png" });
  await expect(photo).toBeVisible({ timeout: 20_000 });
  await expect(photo).toHaveJSProperty("complete", true);
  expect(await photo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(600);
  await expect(shelf).toContainText("Main photo");
  await expect(shelf).toContainText("Cut out");
  await expect(page.getByRole("alert")).toHaveCount(0);
  // The picker is reached from the keyboard.
  await page.getByRole("button", { name: "Delete photo 1 (lamp.png)" }).focus();
  await page.keyboard.press("Shift+Tab");
  await expect(picker).toBeFocused();
  await snap(page, "1-brief");
  const projectPath = new URL(page.url()).pathname;
  await survivesReloads(page, `${projectPath}/brief`, "Photo 1: lamp.png");
  await expect(page.getByLabel("Product name")).toHaveValue("Lumen");
  await page.getByRole("link", { name: "Continue to moods" }).click();

  // Step 2: three mood boards with images; pick one.
  await expect(page.getByRole("heading", { name: "Pick a mood" })).toBeVisible();
  await hydrated(page);
  await page.getByRole("button", { name: "Create mood boards" }).click();
  const moods = page.locator(".mood-card");
  await expect(moods).toHaveCount(3, { timeout: 60_000 });
  await snap(page, "2-moods-arriving");
  // Each board shows a hero image and two more, all loaded.
  const boardImages = moods.first().locator("img");
  await expect(boardImages).toHaveCount(3);
  for (const image of await boardImages.all()) {
    await expect(image).toBeVisible();
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
  }
  await snap(page, "2-moods");
  await moods.first().getByRole("button", { name: /^Choose the mood/ }).click();
  await expect(moods.first().getByRole("button", { name: /^Choose the mood/ })).toHaveAttribute("aria-pressed", "true");
  await survivesReloads(page, `${projectPath}/mood`, "mood-card");
  await expect(moods.first().getByRole("button", { name: /^Choose the mood/ })).toHaveAttribute("aria-pressed", "true");
  await page.getByRole("link", { name: "Continue to the storyboard" }).click();

  // Step 3: plan, then follow the scenes through text, image and clip.
  await expect(page.getByRole("heading", { name: "Plan the storyboard" })).toBeVisible();
  await hydrated(page);
  await page.getByRole("button", { name: "Plan scenes" }).click();
  const scenes = page.locator(".scene-card");
  await expect(scenes.first()).toBeVisible({ timeout: 30_000 });
  const count = await scenes.count();
  expect(count).toBeGreaterThanOrEqual(5);
  expect(count).toBeLessThanOrEqual(7);
  await expect(page.locator(".badge-live")).toBeVisible();
  // The opening hook is a mood shot; the other scenes are made from the product photo,
  // which each scene's own checkbox can change.
  await expect(page.getByRole("checkbox", { name: "Show the product in scene 1" })).not.toBeChecked();
  for (let n = 2; n <= count; n++) {
    await expect(page.getByRole("checkbox", { name: `Show the product in scene ${n}` })).toBeChecked();
  }

  // A second page on the same project, which only watches.
  const watcher = await browser.newContext();
  await watcher.addCookies(await page.context().cookies());
  const second = await watcher.newPage();
  // The storyboard's code is a part of the bundle of its own, which this page fetches
  // and hydrates with.
  const fetched: string[] = [];
  second.on("request", (request) => fetched.push(request.url()));
  await second.goto(page.url());
  await hydrated(second);
  expect(fetched.some((url) => url.includes("/split_storyboard_step_"))).toBe(true);
  await expect(second.locator(".badge-live")).toBeVisible();
  await expect(second.locator(".scene-card")).toHaveCount(count);
  await expect(second.locator('.scene-card[data-stage="text"]')).toHaveCount(count);
  await snap(page, "3-storyboard");

  // Choose the voice after hearing it: the player beside the picker plays a sample of
  // the chosen voice, made by the speech provider (espeak-ng offline).
  const voicePicker = page.getByRole("combobox", { name: "Voiceover" });
  await voicePicker.selectOption("en-gb");
  const sample = page.locator("audio.voice-sample");
  await expect(sample).toHaveAttribute("src", "/api/voices/en-gb/sample");
  await expect(sample).toHaveAttribute("aria-label", "Sample of the voice English (UK), lower");
  const heard = await page.request.get("/api/voices/en-gb/sample");
  expect(heard.status()).toBe(200);
  expect(heard.headers()["content-type"]).toBe("audio/wav");
  expect((await heard.body()).length).toBeGreaterThan(20_000);
  await expect(voicePicker).toBeEnabled();

  await page.getByRole("button", { name: "Approve all texts" }).click();
  // The watcher sees the images arrive without reloading.
  await expect(second.locator('.scene-card img.scene-preview')).toHaveCount(count, { timeout: 120_000 });
  await expect(page.locator(".status-ready", { hasText: "Image ready" })).toHaveCount(count, { timeout: 120_000 });
  // Every product scene's image was checked against the photo and kept the product;
  // the mood shot has nothing to check.
  await expect(page.locator(".status-match")).toHaveCount(count - 1);
  await expect(scenes.nth(1).locator(".status-match")).toHaveText(/^Product match \d+ %$/);
  await expect(scenes.nth(0).locator(".status-match, .status-drift")).toHaveCount(0);
  // Each approved text's voiceover line was spoken (espeak-ng offline) and can be heard
  // on its card; its length fits the scene, so the clips can be asked for.
  await expect(page.locator(".voice-line .status-ready", { hasText: /^Spoken in \d+\.\d s$/ })).toHaveCount(count, {
    timeout: 60_000,
  });
  await expect(page.locator("audio.voice-preview")).toHaveCount(count);
  await expect(voicePicker).toHaveValue("en-gb");
  await snap(page, "4-images");
  await page.getByRole("button", { name: "Approve all images" }).click();
  await expect(second.locator(".scene-card video")).toHaveCount(count, { timeout: 180_000 });
  await expect(page.locator(".status-ready", { hasText: "Clip ready" })).toHaveCount(count, { timeout: 180_000 });
  await page.getByRole("button", { name: "Approve all clips" }).click();
  await expect(page.getByText("Every scene has an approved clip.")).toBeVisible({ timeout: 30_000 });
  await expect(second.getByText("Every scene has an approved clip.")).toBeVisible({ timeout: 30_000 });
  await expect(second.locator('.scene-card[data-stage="done"]')).toHaveCount(count);
  // The final step opens in the step indicator of both pages without a reload.
  for (const p of [page, second]) {
    await expect(p.getByRole("list", { name: "Project steps" }).getByRole("link", { name: /Final video/ })).toBeVisible();
  }
  await snap(page, "5-done");

  // A clip plays: it has a duration.
  const duration = await page
    .locator(".scene-card video")
    .first()
    .evaluate(async (video: HTMLVideoElement) => {
      if (video.readyState < 1) await new Promise((resolve) => video.addEventListener("loadedmetadata", resolve, { once: true }));
      return video.duration;
    });
  expect(duration).toBeGreaterThan(2);

  // The brand kit: a teal main colour, an SVG logo (uploaded with progress, shown as
  // rasterised), an end card with the handle; saved, it applies to the render.
  const storyboardUrl = page.url();
  await page.getByRole("link", { name: "Brand kit" }).click();
  await expect(page.getByRole("heading", { name: "Brand kit", level: 1 })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("Choose a logo").setInputFiles(path.join(__dirname, "..", "fixtures", "logo.svg"));
  const logo = page.locator(".brand-logo-box").getByRole("img", { name: "Your logo" });
  await expect(logo).toBeVisible({ timeout: 20_000 });
  await expect(page.getByRole("status").filter({ hasText: "Logo saved." })).toBeVisible();
  await page.getByLabel("Brand colour 1").fill("#2a9d8f");
  await page.getByLabel("Website or handle").fill("@lumen.light");
  await expect(page.locator(".brand-preview-card")).toHaveCSS("background-color", "rgb(42, 157, 143)");
  await page.getByRole("button", { name: "Save brand kit" }).press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await snap(page, "5b-brand-kit");
  await page.goto(storyboardUrl);
  await hydrated(page);
  await survivesReloads(page, `${projectPath}/storyboard`, 'data-stage="done"');
  await expect(page.locator('.scene-card[data-stage="done"]')).toHaveCount(count);

  // Step 4: music, then the render, followed live to 100%.
  await page.getByRole("link", { name: "Continue to the final video" }).click();
  await expect(page.getByRole("heading", { name: "Final video" })).toBeVisible();
  await hydrated(page);
  await page.getByRole("button", { name: "Make music" }).click();
  await expect(page.getByLabel("Music preview")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByLabel("Use music")).toBeChecked();
  await page.evaluate(() => {
    (window as any).maxProgress = 0;
    new MutationObserver(() => {
      document.querySelectorAll('[role="progressbar"]').forEach((bar) => {
        (window as any).maxProgress = Math.max((window as any).maxProgress, Number(bar.getAttribute("aria-valuenow")));
      });
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  // Captions of the voiceover, in the boxed style.
  await page.getByRole("combobox", { name: "Captions" }).selectOption("boxed");
  await page.getByRole("button", { name: "Render video" }).click();
  await expect(page.getByRole("progressbar", { name: "Render progress" })).toBeVisible();
  const final = page.getByLabel("Final video, version 1");
  await expect(final).toBeVisible({ timeout: 120_000 });
  expect(await page.evaluate(() => (window as any).maxProgress)).toBe(100);
  const download = page.getByRole("link", { name: "Download MP4" });
  await expect(download).toHaveAttribute("download", "lumen-launch-v1.mp4");
  // The link itself names the file (Content-Disposition), which also works cross-origin.
  await expect(download).toHaveAttribute("href", /[?&]download=lumen-launch-v1\.mp4$/);
  await snap(page, "6-final");
  await survivesReloads(page, `${projectPath}/video`, "Final video, version 1");
  // It plays: it has a duration and time advances.
  const played = await final.evaluate(async (video: HTMLVideoElement) => {
    video.muted = true;
    if (video.readyState < 1) await new Promise((resolve) => video.addEventListener("loadedmetadata", resolve, { once: true }));
    await video.play();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    return { duration: video.duration, time: video.currentTime };
  });
  expect(played.duration).toBeGreaterThan(20);
  expect(played.time).toBeGreaterThan(0.3);
  // The player offers the captions as a track, with a cue for each spoken phrase, and
  // they can be downloaded.
  const cues = await final.evaluate(async (video: HTMLVideoElement) => {
    const track = video.textTracks[0];
    track.mode = "hidden";
    for (let i = 0; i < 100 && (!track.cues || track.cues.length === 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return track.cues ? Array.from(track.cues).map((cue) => (cue as VTTCue).text) : [];
  });
  expect(cues.length).toBeGreaterThanOrEqual(count);
  await expect(page.getByRole("link", { name: "Download the captions of version 1 as SRT" })).toBeVisible();
  // The final card says which kit it was drawn with, and the video ends on the end card:
  // the brand's teal at the edge of its last frames, the plan's length kept.
  await expect(page.getByRole("region", { name: "Brand", exact: true })).toContainText("drawn with your brand kit");
  const ending = await final.evaluate(async (video: HTMLVideoElement) => {
    video.pause();
    video.currentTime = video.duration - 0.3;
    await new Promise((resolve) => video.addEventListener("seeked", resolve, { once: true }));
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext("2d")!;
    context.drawImage(video, 0, 0);
    return Array.from(context.getImageData(20, 20, 1, 1).data.slice(0, 3));
  });
  for (const [got, want] of ending.map((value, i) => [value, [42, 157, 143][i]])) {
    expect(Math.abs(got - want)).toBeLessThan(14);
  }

  // Share it: a logged-out browser opens the link and plays the video.
  await page.getByRole("button", { name: "Create a share link for version 1" }).click();
  const shareField = page.getByLabel("Share link", { exact: true });
  await expect(shareField).toHaveValue(/^http:\/\/[^/]+\/s\/[A-Za-z0-9_-]{22,}$/);
  const sharePath = await shareField.inputValue();
  const visitor = await browser.newContext();
  const publicPage = await visitor.newPage();
  await publicPage.goto(sharePath);
  // Titled after the product, not the project's internal name; its media go through the token.
  await expect(publicPage.getByRole("heading", { name: "Lumen", exact: true })).toBeVisible();
  await expect(publicPage.locator('meta[property="og:video"]')).toHaveAttribute("content", /^http:\/\/[^/]+\/s\/[A-Za-z0-9_-]{22,}\/video\.mp4$/);
  const shared = await publicPage.locator("video").evaluate(async (video: HTMLVideoElement) => {
    video.muted = true;
    if (video.readyState < 1) await new Promise((resolve) => video.addEventListener("loadedmetadata", resolve, { once: true }));
    await video.play();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { duration: video.duration, time: video.currentTime };
  });
  expect(shared.duration).toBeGreaterThan(20);
  expect(shared.time).toBeGreaterThan(0.3);
  await expect(publicPage.locator('video track[kind="captions"]')).toHaveAttribute("src", /\/s\/[A-Za-z0-9_-]{22,}\/captions\.vtt$/);
  await snap(publicPage, "8-shared");
  await visitor.close();

  // Phone width: the page still fits.
  await page.setViewportSize({ width: 390, height: 844 });
  await snap(page, "7-phone");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await watcher.close();
});
