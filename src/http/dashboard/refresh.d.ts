export declare const REFRESH_MARGIN_SECONDS: number;
export declare const MIN_REFRESH_DELAY_MS: number;
export declare function refreshMarginSeconds(lifetimeSeconds: number): number;
export declare function refreshDelayMs(expiresInSeconds: number, lifetimeSeconds?: number): number;
export declare function swapMoment(media: { hasSource: boolean; paused: boolean; ended: boolean }): 'now' | 'later';
