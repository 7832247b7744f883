export { Tpi2Driver, type Tpi2DriverOptions } from './driver.js';
export { createHttpsFetch, type FetchLike, type FetchInit, type FetchResponse } from './https-fetch.js';
export { LoginGuard, DEFAULT_LOGIN_POLICY, type LoginGuardPolicy } from './login-guard.js';
export { loadCaOption, parseFingerprint, fingerprintOf, bmcTrust, type BmcTrust } from './pinning.js';
