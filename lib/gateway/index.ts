/**
 * mistral-router/gateway: the HTTP gateway (`mistral-router serve`) as a library: Mistral's and OpenAI's
 * wire formats over the router, with virtual keys, routes and a drain on close.
 */
export { startGateway, type Gateway, type GatewayOptions } from './gateway.js';
export { loadGatewayConfig, DEFAULT_SERVER, type GatewayConfig, type GatewayConfigInput, type ConfigSource, type LoadedConfig, type ServerSettings, type RouteConfig, type KeyConfig, type KeyLimits, type RouterSettings } from './config.js';
export { gatewayConfigSchema } from './config-schema.js';
export { ConfigFileError, GatewayError, type GatewayErrorCode } from './errors.js';
