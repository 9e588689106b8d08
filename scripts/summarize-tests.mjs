// Reads vitest's JSON report and prints the closing line "N passed, N failed".
// Failed non-vitest steps (build, typecheck, notebooks...) count as failures too.
import { existsSync, readFileSync } from "node:fs";

const [reportPath, extraFailed = "0"] = process.argv.slice(2);
let passed = 0;
let failed = Number(extraFailed) || 0;
let skipped = 0;
if (reportPath && existsSync(reportPath)) {
  const r = JSON.parse(readFileSync(reportPath, "utf8"));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A suite that failed to load has no tests counted: count it as one failure.
  for (const s of r.testResults ?? []) if (s.status === "failed" && (s.assertionResults ?? []).length === 0) failed += 1;
} else {
  failed += 1;
  console.log("no vitest report found: the test run did not complete");
}
if (passed === 0 && failed === 0) failed = 1; // a run that executed nothing is a failure
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
