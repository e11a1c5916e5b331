import { callLogsProjector } from './callLogs/projector.ts';
import type { Projector } from './projector.ts';
import { recordingDownloadsProjector } from './recordingDownloads/projector.ts';
import { recordingMetricsProjector } from './metrics/projector.ts';
import { callErasuresProjector } from './erasures/projector.ts';

/** Every read model callrec keeps. */
export function allProjectors(): Projector[] {
  return [callLogsProjector, recordingDownloadsProjector, recordingMetricsProjector, callErasuresProjector];
}
