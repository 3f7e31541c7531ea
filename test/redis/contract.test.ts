/**
 * The store contract suite (the one the memory store runs) against RedisStore, on a real Redis with a
 * fake clock passed into the scripts. Each store gets its own key prefix; teardown flushes only that.
 */
import { RedisStore } from '../../lib/quota/redis/index.js';
import type { QuotaStore } from '../../lib/quota/types.js';
import { flushPrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';
import { describeStoreContract } from '../quota/store-contract.js';

describe('RedisStore', function () {
  before(async function () {
    await requireRedis(this);
  });

  const prefixes = new WeakMap<QuotaStore, string>();
  describeStoreContract(
    'RedisStore',
    async (clock, options) => {
      const keyPrefix = uniquePrefix('contract');
      const store = new RedisStore({ redis: redisUrl, keyPrefix, clock, ...options });
      prefixes.set(store, keyPrefix);
      return store;
    },
    async (store) => {
      await store.close();
      const prefix = prefixes.get(store);
      if (prefix !== undefined) await flushPrefix(prefix);
    },
  );
});
