// The bot's features. Adding one = one file plus one line here.
import type { Feature } from './types.js';
import { activity } from './activity.js';
import { setup } from './setup.js';
import { reports } from './reports.js';

export const FEATURES: readonly Feature[] = [activity, setup, reports];
export type { Feature, FeatureContext, SendMessage } from './types.js';
