// The wire: one undici Agent (kept-alive connections), a bound on requests in flight, a timeout
// per attempt, retries with exponential backoff for what may pass (network errors, timeouts, 5xx),
// and the counts behind ApiStats. It decides nothing about what an answer means.

import { Agent, request } from "undici";
import type { ApiStats } from "../../core/model.js";
import { redact } from "../../core/redact.js";

export interface HttpOptions {
  /** scheme://host[:port][/prefix], no trailing slash, no credentials */
  baseUrl: string;
  insecure: boolean;
  caCert: string | null;
  concurrency: number;
  timeoutMs: number;
  retries: number;
  /** first backoff delay; doubles with each retry */
  retryDelayMs: number;
  log?: ((line: string) => void) | undefined;
  /** masks the run's secrets in an answer quoted in a message (the run's Redactor.outside) */
  mask?: ((text: string) => string) | undefined;
}

export interface HttpRequest {
  method: "GET" | "POST";
  /** path and query under the base URL, starting with "/" */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** An answer from the server, whatever its status. */
export interface HttpAnswer {
  kind: "answer";
  status: number;
  contentType: string;
  body: string;
  /** the Link header, for paging */
  link: string | null;
}

/** No usable answer after every attempt: the server is down, slow, resetting, or failing with 5xx. */
export interface HttpFailure {
  kind: "failure";
  /** one line, for people; already redacted */
  detail: string;
  /** true when not even a connection was made on the last attempt (refused, DNS, TLS) */
  unreachable: boolean;
  /** set when the last attempt got a 5xx answer */
  status: number | null;
  /** the certificate was refused: retrying cannot help */
  tls?: boolean;
}

export type HttpResult = HttpAnswer | HttpFailure;

/** A counting semaphore: at most `limit` holders at once, the rest wait in order. */
class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    // hand the slot straight to the next waiter so that no late arrival can overtake it
    if (next) next();
    else this.active--;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Errors raised before any byte reached the server: retrying a refused connection may still help
// (a restarting ATC), but once retries are spent the message should say "cannot reach".
const NO_CONNECTION = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);
const TLS_CODES = /^(ERR_TLS_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|ERR_SSL_)/;

// undici wraps the socket's own error (ECONNRESET, a TLS code) as the cause of UND_ERR_SOCKET.
function errorCode(error: unknown): string | undefined {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes.find((code) => code !== "UND_ERR_SOCKET") ?? codes[0];
}

function errorText(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

export class HttpTransport {
  readonly agent: Agent;
  private readonly slots: Slots;
  private inFlight = 0;
  private readonly counts: ApiStats = { requests: 0, maxInFlight: 0, outcomes: {} };

  constructor(private readonly options: HttpOptions) {
    this.slots = new Slots(Math.max(1, options.concurrency));
    this.agent = new Agent({
      connections: Math.max(1, options.concurrency),
      keepAliveTimeout: 30_000,
      connect: {
        ...(options.caCert ? { ca: options.caCert } : {}),
        rejectUnauthorized: !options.insecure,
      },
    });
  }

  /** Count one logical outcome: ok, not-found, no-access, transient (retry is counted here). */
  count(outcome: string): void {
    this.counts.outcomes[outcome] = (this.counts.outcomes[outcome] ?? 0) + 1;
  }

  stats(): ApiStats {
    return { requests: this.counts.requests, maxInFlight: this.counts.maxInFlight, outcomes: { ...this.counts.outcomes } };
  }

  /** Send with retries. Never throws: a spent retry budget is an HttpFailure. */
  async send(req: HttpRequest): Promise<HttpResult> {
    const label = `${req.method} ${req.path}`;
    let last: HttpResult | null = null;
    for (let attempt = 0; ; attempt++) {
      last = await this.attempt(req);
      const retryable = last.kind === "failure" ? !last.tls : last.status >= 500 || last.status === 429;
      if (!retryable || attempt >= this.options.retries) break;
      this.count("retry");
      const why = last.kind === "failure" ? last.detail : `HTTP ${last.status}`;
      // jitter keeps many lookups that failed together from retrying together
      const delay = Math.round(this.options.retryDelayMs * 2 ** attempt * (0.5 + Math.random() / 2));
      this.options.log?.(redact(`${label}: ${why}; retry ${attempt + 1}/${this.options.retries} in ${delay} ms`));
      await sleep(delay);
    }
    if (last.kind === "answer" && (last.status >= 500 || last.status === 429)) {
      const tries = this.options.retries + 1;
      return { kind: "failure", detail: redact(`${label} answered HTTP ${last.status}${(this.options.mask ?? redact)(statusText(last))} (${tries} ${tries === 1 ? "try" : "tries"})`), unreachable: false, status: last.status };
    }
    return last;
  }

  private async attempt(req: HttpRequest): Promise<HttpResult> {
    await this.slots.acquire();
    this.counts.requests++;
    this.inFlight++;
    this.counts.maxInFlight = Math.max(this.counts.maxInFlight, this.inFlight);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.options.timeoutMs);
    let connected = false;
    try {
      const res = await request(this.options.baseUrl + req.path, {
        dispatcher: this.agent,
        method: req.method,
        headers: req.headers ?? {},
        body: req.body ?? null,
        signal: controller.signal,
      });
      connected = true;
      const body = await res.body.text();
      const contentType = res.headers["content-type"];
      const link = res.headers["link"];
      return {
        kind: "answer",
        status: res.statusCode,
        contentType: Array.isArray(contentType) ? (contentType[0] ?? "") : (contentType ?? ""),
        body,
        link: Array.isArray(link) ? (link[0] ?? null) : (link ?? null),
      };
    } catch (error) {
      const code = errorCode(error);
      if (timedOut) {
        return { kind: "failure", detail: `${req.method} ${req.path}: no answer within ${this.options.timeoutMs} ms`, unreachable: false, status: null };
      }
      const tls = code !== undefined && TLS_CODES.test(code);
      const unreachable = !connected && (tls || (code !== undefined && NO_CONNECTION.has(code)));
      return { kind: "failure", detail: redact(`${req.method} ${req.path}: ${errorText(error)}`), unreachable, status: null, tls };
    } finally {
      clearTimeout(timer);
      this.inFlight--;
      this.slots.release();
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function statusText(answer: HttpAnswer): string {
  const text = answer.body.trim().split("\n")[0] ?? "";
  return text && text.length <= 120 && !text.startsWith("<") ? `: ${text}` : "";
}
