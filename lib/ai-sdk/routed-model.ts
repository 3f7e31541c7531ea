/**
 * What the routed chat and embedding models share: the `@ai-sdk/mistral` model they wrap, their route,
 * the provider's calls, and the way a call opens and fails.
 */
import type { SharedV3ProviderMetadata, SharedV3ProviderOptions } from '@ai-sdk/provider';
import type { Endpoint } from '../need.js';
import type { Decision } from '../router/decision.js';
import type { Call, Calls } from './calls.js';
import { toAISDKError } from './errors.js';
import { routingMetadata, withRouting } from './metadata.js';
import { callRoute, routeModelId, type CallRoute } from './route.js';

/** What a routed model needs of its provider. */
export interface RoutedModelHost {
  readonly calls: Calls;
}

export abstract class RoutedModel<Inner> {
  /** The id or alias asked for, or `auto`; each response's `modelId` is the model that answered. */
  readonly modelId: string;
  protected readonly inner: Inner;
  protected readonly host: RoutedModelHost;
  readonly #route: CallRoute;
  readonly #endpoint: Endpoint;

  constructor(inner: Inner, route: CallRoute, host: RoutedModelHost, endpoint: Endpoint) {
    this.inner = inner;
    this.host = host;
    this.#route = route;
    this.#endpoint = endpoint;
    this.modelId = routeModelId(route);
  }

  /** A call with this model's route, `providerOptions.mistralRouter` over it (checked: NeedError). */
  protected openCall(providerOptions: SharedV3ProviderOptions | undefined): Call {
    return this.host.calls.open(callRoute(this.#route, providerOptions, this.#endpoint));
  }

  /**
   * One whole (not streamed) call: `run` sends it through the inner model with the call's header, the
   * result gets `providerMetadata.mistralRouter`, a failure becomes the application's error, and the
   * call closes either way.
   */
  protected async routed<R extends { providerMetadata?: SharedV3ProviderMetadata }>(call: Call, run: () => PromiseLike<R>): Promise<R> {
    try {
      const result = await run();
      return { ...result, providerMetadata: withRouting(result.providerMetadata, routingMetadata(call.decision as Decision)) };
    } catch (error) {
      throw this.failure(call, error);
    } finally {
      this.host.calls.close(call);
    }
  }

  /** The error the application gets: the router's (mapped), when the router threw one. */
  protected failure(call: Call, error: unknown): unknown {
    return toAISDKError(call.error ?? error, call.url, call.body);
  }
}
