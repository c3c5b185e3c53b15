export { FlowSchema, TaskSchema, flowJsonSchema, type Flow, type FlowInput, type Task, type Retry, type Trigger, type ScheduleTrigger, type FlowConcurrency } from './schema.js';
export { parseFlow, loadFlowFile, isComponentPath, locateIssues, type ParsedFlow } from './parse.js';
export { FlowError, formatPath, type FlowIssue } from './errors.js';
export { validateDag, topologicalOrder } from './validate.js';
export { parseDuration, parseSize } from './units.js';
export { cronProblem, timezoneProblem, nextTick, ticksBetween, latestTicks } from './cron.js';
