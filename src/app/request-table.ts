import type { MqttConnection } from '../mqtt/connection.js';
import type { Topics } from '../mqtt/topics.js';
import { parseActionName, type Origin } from '../power/types.js';
import { errorMessage } from '../util/errors.js';
import { alternatives, type CommandHandler } from './command-table.js';
import type { EventSink } from './event-sink.js';
import { InputError, quote, requestObject, transactionOf, UnreadPayload } from './input.js';
import { TakenRequests } from './request-resends.js';

/**
 * An error answer that also says what was done: a request on several nodes that failed on some
 * of them answers every node's outcome in `data`, so that a client retries only what failed.
 */
export class PartlyDone extends Error {
  constructor(
    message: string,
    readonly data: unknown,
  ) {
    super(message);
  }
}

/**
 * Answers one `bridge/request/<action>` (its JSON object, `source` taken out); throws to answer an
 * error. `origin` carries who asked and the request's transaction, which every event of the
 * action carries (docs/topics.md).
 */
export type RequestHandler = (request: Record<string, unknown>, origin: Origin) => Promise<unknown>;

/** Action -> handler: every `bridge/request/<action>` the bridge answers. */
export type RequestTable = Record<string, RequestHandler>;

export interface RequestTableDeps {
  connection: MqttConnection;
  topics: Topics;
  event: EventSink;
}

/**
 * The handler of `bridge/request/#` (docs/topics.md): parses the request, runs the action's
 * handler and answers on `bridge/response/<action>` with the request's transaction. The
 * table's keys are the actions it knows, and also what the "unknown request" answer lists.
 */
export function requestCommand(table: RequestTable, { connection, topics, event }: RequestTableDeps): CommandHandler {
  const actions = Object.keys(table);
  const taken = new TakenRequests();
  return async (topic, payload) => {
    const action = topic.slice(topics.requestPrefix.length);
    // Until the payload is read: a request that cannot be read is from someone on MQTT.
    let origin: Origin = { source: 'mqtt' };
    let answered: (body: object) => void = () => undefined;
    const respond = async (body: object): Promise<void> => {
      answered(body);
      // A transaction left undefined is not in the JSON.
      const response = { ...body, transaction: origin.transaction };
      if (RESPONSE_ACTION.test(action)) await connection.publish(topics.response(action), JSON.stringify(response));
    };
    try {
      const request = requestObject(payload);
      // `source: "cli"` comes from `turingpi-mqtt power`; a bad transaction is refused after it.
      origin = { source: request.source === 'cli' ? 'cli' : 'mqtt' };
      delete request.source;
      origin = { ...origin, transaction: transactionOf(request) };
      // A request sent again (its acknowledgement was lost) is answered as the first was, not done twice.
      if (!onlyReads(action, request)) {
        const text = payload instanceof UnreadPayload ? '' : payload.toString('utf8');
        const earlier = taken.earlier(action, origin.transaction, text);
        if (earlier) {
          // Said on the bus: a script that repeats a transaction on purpose learns why nothing happened.
          event({ type: 'request', action, ...origin, result: 'ok', message: SENT_AGAIN });
          return await respond(await earlier);
        }
        answered = taken.take(action, origin.transaction, text);
      }
      const handler = Object.hasOwn(table, action) ? table[action] : undefined;
      if (!handler) throw new InputError(`unknown request ${quote(action)}: use ${alternatives(actions)}`);
      await respond({ status: 'ok', data: await handler(request, origin) });
    } catch (error) {
      const reason = errorMessage(error);
      // A refused power change was already reported by the power service (one event per
      // node): a second event here would count one bad request twice.
      if (error instanceof InputError) {
        event({ type: 'request', action, ...origin, result: 'error', error: reason });
        // Bad input did nothing: sent again, it is refused again, with its own event.
        taken.forget(action, origin.transaction);
      }
      await respond({ status: 'error', error: reason, ...(error instanceof PartlyDone ? { data: error.data } : {}) });
    }
  };
}

const SENT_AGAIN =
  'the same request sent again (its action, transaction and payload taken in the last 10 minutes): answered ' +
  'as the first one, nothing was done again; give every request a new transaction';

/**
 * A request that changes nothing (`status`, a `power` `status`): asked again, even with the same
 * transaction (a script polling with a fixed one), it is answered as things are now.
 */
function onlyReads(action: string, request: Record<string, unknown>): boolean {
  return (
    action === 'status' ||
    (action === 'power' && typeof request.action === 'string' && parseActionName(request.action) === 'status')
  );
}

/**
 * The actions whose unknown names are still answered on `bridge/response/<action>`: a name a
 * person could mistype (letters, digits, `-`, `_`, `/`). Anything else (a `+` or `#`, which a
 * topic a client publishes to may not hold, a space, a long string) gets the error event only.
 */
const RESPONSE_ACTION = /^[A-Za-z0-9_/-]{1,40}$/;
