// tests/report/check_report.cjs -- load a report.html in headless Chromium (Debian's, driven by
// playwright-core from npm) and check what a reader would see.
//
//   node check_report.cjs REPORT.html EPOCHS NC [SCREENSHOT.png]
//
// Fails on any console error or warning, page error or failed request; checks that a training
// report (EPOCHS > 0) has the 11 curve panels with one point per epoch in every curve, that
// every report has one per-class row for each of the NC classes, that a finished page no
// longer reloads itself, and that every picture in the gallery decodes. CHROMIUM overrides
// the browser (default /usr/bin/chromium).
'use strict';
const path = require('path');
const {chromium} = require('playwright-core');

async function main() {
  const [file, epochsArg, ncArg, shot] = process.argv.slice(2);
  const epochs = Number(epochsArg), nc = Number(ncArg);
  const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox']});
  const problems = [];
  try {
    const page = await browser.newPage({viewport: {width: 1280, height: 900}});
    page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') problems.push('console ' + m.type() + ': ' + m.text()); });
    page.on('pageerror', e => problems.push('page error: ' + e.message));
    page.on('requestfailed', r => problems.push('request failed: ' + r.url()));
    await page.goto('file://' + path.resolve(file), {waitUntil: 'load'});
    const info = await page.evaluate(() => ({
      curves: [...document.querySelectorAll('#curves svg.chart')].map(s => ({
        title: s.dataset.title,
        points: [...s.querySelectorAll('polyline.series')].map(p => p.points.numberOfItems)})),
      classRows: document.querySelectorAll('#classes tr.class-row').length,
      status: document.getElementById('status').textContent,
      refresh: !!document.querySelector('meta[http-equiv="refresh"]'),
      images: [...document.querySelectorAll('#gallery img')].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0})),
      pr: document.querySelectorAll('#pr polyline.series').length,
      confusion: document.querySelectorAll('#confusion tr').length,
    }));
    if (epochs > 0) {
      if (info.curves.length !== 11) problems.push(info.curves.length + ' curve panels, expected 11');
      for (const c of info.curves)
        for (const n of c.points) if (n !== epochs) problems.push(c.title + ': ' + n + ' points, expected ' + epochs);
      if (!/finished/.test(info.status)) problems.push('status says "' + info.status + '"');
    } else if (info.curves.length) {
      problems.push('a validation report with ' + info.curves.length + ' curve panels');
    }
    if (info.classRows !== nc) problems.push(info.classRows + ' per-class rows, expected ' + nc);
    if (info.pr !== nc + 1) problems.push(info.pr + ' PR curves, expected ' + (nc + 1));
    if (info.confusion !== nc + 2) problems.push(info.confusion + ' confusion matrix rows, expected ' + (nc + 2));
    if (info.refresh) problems.push('the finished page still reloads itself');
    for (const im of info.images) if (!im.ok) problems.push('picture ' + im.alt + ' does not decode');
    if (shot) await page.screenshot({path: shot, fullPage: true});
    console.log(path.basename(file) + ': ' + info.curves.length + ' curve panels (' + epochs + ' epochs), ' + info.classRows +
                ' class rows, ' + info.pr + ' PR curves, ' + info.images.length + ' pictures, status "' + info.status.trim() + '"');
  } finally {
    await browser.close();
  }
  if (problems.length) {
    for (const p of problems) console.error('FAIL: ' + p);
    process.exit(1);
  }
}
main().catch(e => { console.error('check_report: ' + e.message); process.exit(1); });
