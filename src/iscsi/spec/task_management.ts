/** Task Management Function codes (RFC 7143 §11.5.1) and response codes (§11.6.1). */
export const TaskManagementFunction = {
  abortTask: 1,
  abortTaskSet: 2,
  clearAca: 3,
  clearTaskSet: 4,
  logicalUnitReset: 5,
  targetWarmReset: 6,
  targetColdReset: 7,
  taskReassign: 8,
} as const
export type TaskManagementFunction =
  (typeof TaskManagementFunction)[keyof typeof TaskManagementFunction]

/** RFC 7143 §11.6.1 */
export const TaskManagementResponseCode = {
  functionComplete: 0,
  taskDoesNotExist: 1,
  lunDoesNotExist: 2,
  taskStillAllegiant: 3,
  taskAllegianceReassignmentNotSupported: 4,
  taskManagementFunctionNotSupported: 5,
  functionAuthorizationFailed: 6,
  functionRejected: 255,
} as const
export type TaskManagementResponseCode =
  (typeof TaskManagementResponseCode)[keyof typeof TaskManagementResponseCode]
