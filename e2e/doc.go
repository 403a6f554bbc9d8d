// Package e2e holds the browser end-to-end tests of Cairn: they build the
// cairn binary, run `cairn serve` on a fresh data directory with a test
// mail relay, send it a real crash, and drive the web interface in headless
// Chromium through playwright-core (testdata/ui.mjs, run with node).
//
// The tests need node, Chromium and the npm package playwright-core;
// .ci/run installs all three. Without one of them a test skips naming the
// install command, or fails under CI=true. Screenshots go to
// $CAIRN_E2E_ARTIFACTS when set, else to the test's temporary directory.
package e2e
