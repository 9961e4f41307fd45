/**
 * SAM-5 §5.3.1: status codes. The table lives in port.ts (the transport seam) and is
 * re-exported here so SCSI code reads its spec tables from one folder.
 */
export { ScsiStatus } from '../port.ts'
