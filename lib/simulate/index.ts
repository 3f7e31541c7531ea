/**
 * The simulator: read a trace (Azure CSV or JSON lines), replay it through the router against the
 * emulator on a fake clock, and summarise it as tables and an HTML report with a chart per model.
 * `mistral-router simulate` (lib/cli/simulate.ts) is this with flags; bench/utilisation.ts reuses the
 * reader and the engine.
 */
export { readTrace, parseTrace, type Trace, type TraceFormat, type TraceRequest, type ReadTraceOptions } from './trace.js';
export { TraceFileError, type TraceFileErrorFields } from './errors.js';
export { loadWorkspaceFile, workspaceFileSchema, type SimulatedWorkspace } from './workspace-file.js';
export { promptText, sentPromptTokens, SMALLEST_PROMPT_TOKENS } from './prompt.js';
export { startUpstreams, type Upstreams } from './upstreams.js';
export { replay, STEP_MS, type CallOutcome, type CallRecord, type ReplayOptions, type ReplayProgress, type ReplayResult } from './replay.js';
export { summarise, percentile, type ModelSummary, type ReplaySummary } from './summary.js';
export { modelChart, niceCeiling, CHART } from './chart.js';
export { reportHtml, totalsRows, modelRows, modelTableRows, totalRow, MODEL_HEADER, type ReportContext } from './report.js';
