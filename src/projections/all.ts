import type { Keyring } from '../privacy/keyring.ts';
import { createCallLogsProjector } from './callLogs/projector.ts';
import type { Projector } from './projector.ts';
import { createRecordingDownloadsProjector } from './recordingDownloads/projector.ts';
import { recordingMetricsProjector } from './metrics/projector.ts';
import { orgRetentionProjector } from './orgRetention/projector.ts';
import { callErasuresProjector } from './erasures/projector.ts';

/** Every read model callrec keeps; `keyring` seals their personal columns (privacy/openRows.ts). */
export function allProjectors(keyring: Keyring): Projector[] {
  return [createCallLogsProjector(keyring), createRecordingDownloadsProjector(keyring), recordingMetricsProjector, orgRetentionProjector, callErasuresProjector];
}

/** The names of allProjectors() (for usage texts and lag reports, which need no keys). */
export const PROJECTOR_NAMES = ['call_logs', 'recording_downloads', recordingMetricsProjector.name, orgRetentionProjector.name, callErasuresProjector.name] as const;
