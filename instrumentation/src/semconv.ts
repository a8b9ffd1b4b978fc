/**
 * Attribute names used on tokenledger's spans, in one place.
 *
 * GenAI names follow the OpenTelemetry GenAI semantic conventions (latest names). As
 * opentelemetry-js-contrib does, they are copied here rather than imported from the
 * `incubating` entry of `@opentelemetry/semantic-conventions`, which breaks in minor releases.
 * The collector imports this module too (`tokenledger/semconv`), so both sides agree.
 */

// --- GenAI semantic conventions (current names) ---
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const ATTR_GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
export const ATTR_GEN_AI_OUTPUT_TYPE = 'gen_ai.output.type';
export const ATTR_GEN_AI_REQUEST_ENCODING_FORMATS = 'gen_ai.request.encoding_formats';
/** Total input tokens, cache reads and cache writes included, whatever the provider's own convention. */
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = 'gen_ai.usage.cache_creation.input_tokens';
export const ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = 'gen_ai.usage.reasoning.output_tokens';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
/** OpenAI-specific: which API surface served the call (`chat_completions` | `responses`). */
export const ATTR_OPENAI_API_TYPE = 'openai.api.type';
export const ATTR_OPENAI_RESPONSE_SERVICE_TIER = 'openai.response.service_tier';
export const OPENAI_API_TYPE_CHAT_COMPLETIONS = 'chat_completions';
export const OPENAI_API_TYPE_RESPONSES = 'responses';

/** Values of error.type that tokenledger sets when a call or stream did not run to its end. */
export const ERROR_TYPE_ABORTED = 'aborted';
export const ERROR_TYPE_CANCELLED = 'cancelled';
export const ERROR_TYPE_OTHER = '_OTHER';

/** Well-known values of gen_ai.operation.name. */
export const GEN_AI_OPERATION_CHAT = 'chat';
export const GEN_AI_OPERATION_EMBEDDINGS = 'embeddings';
export const GEN_AI_OPERATION_TEXT_COMPLETION = 'text_completion';
export const GEN_AI_OPERATION_GENERATE_CONTENT = 'generate_content';

/** Well-known values of gen_ai.provider.name. */
export const GEN_AI_PROVIDER_OPENAI = 'openai';
export const GEN_AI_PROVIDER_AZURE_OPENAI = 'azure.ai.openai';
export const GEN_AI_PROVIDER_ANTHROPIC = 'anthropic';

// --- older and foreign names, read by the collector on input ---
export const ATTR_GEN_AI_SYSTEM_DEPRECATED = 'gen_ai.system';
export const ATTR_GEN_AI_USAGE_PROMPT_TOKENS_DEPRECATED = 'gen_ai.usage.prompt_tokens';
export const ATTR_GEN_AI_USAGE_COMPLETION_TOKENS_DEPRECATED = 'gen_ai.usage.completion_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS_LEGACY = 'gen_ai.usage.cache_read_input_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS_LEGACY =
  'gen_ai.usage.cache_creation_input_tokens';
/** OpenLLMetry: 'chat' | 'completion' | 'embedding' | ... (before gen_ai.operation.name existed). */
export const ATTR_LLM_REQUEST_TYPE_OPENLLMETRY = 'llm.request.type';
export const ATTR_LLM_IS_STREAMING_OPENLLMETRY = 'llm.is_streaming';
export const ATTR_GEN_AI_REQUEST_IS_STREAM_OPENLIT = 'gen_ai.request.is_stream';
export const ATTR_TELEMETRY_SDK_NAME = 'telemetry.sdk.name';

// OpenInference (Arize Phoenix) names.
export const ATTR_OI_SPAN_KIND = 'openinference.span.kind';
export const ATTR_OI_LLM_MODEL_NAME = 'llm.model_name';
export const ATTR_OI_EMBEDDING_MODEL_NAME = 'embedding.model_name';
export const ATTR_OI_LLM_PROVIDER = 'llm.provider';
export const ATTR_OI_LLM_SYSTEM = 'llm.system';
export const ATTR_OI_TOKEN_COUNT_PROMPT = 'llm.token_count.prompt';
export const ATTR_OI_TOKEN_COUNT_COMPLETION = 'llm.token_count.completion';
export const ATTR_OI_TOKEN_COUNT_PROMPT_CACHE_READ = 'llm.token_count.prompt_details.cache_read';
export const ATTR_OI_TOKEN_COUNT_PROMPT_CACHE_WRITE = 'llm.token_count.prompt_details.cache_write';
export const ATTR_OI_TOKEN_COUNT_COMPLETION_REASONING = 'llm.token_count.completion_details.reasoning';

// Vercel AI SDK telemetry names (`ai.*`).
export const ATTR_AI_OPERATION_ID = 'ai.operationId';
export const ATTR_AI_MODEL_ID = 'ai.model.id';
export const ATTR_AI_MODEL_PROVIDER = 'ai.model.provider';
export const ATTR_AI_RESPONSE_MODEL = 'ai.response.model';
export const ATTR_AI_RESPONSE_PROVIDER_METADATA = 'ai.response.providerMetadata';
/** AI SDK v3/v4. */
export const ATTR_AI_USAGE_PROMPT_TOKENS = 'ai.usage.promptTokens';
export const ATTR_AI_USAGE_COMPLETION_TOKENS = 'ai.usage.completionTokens';
/** AI SDK v5+. */
export const ATTR_AI_USAGE_INPUT_TOKENS = 'ai.usage.inputTokens';
export const ATTR_AI_USAGE_OUTPUT_TOKENS = 'ai.usage.outputTokens';
export const ATTR_AI_USAGE_CACHED_INPUT_TOKENS = 'ai.usage.cachedInputTokens';
export const ATTR_AI_USAGE_REASONING_TOKENS = 'ai.usage.reasoningTokens';
/** AI SDK v6. */
export const ATTR_AI_USAGE_INPUT_NO_CACHE_TOKENS = 'ai.usage.inputTokenDetails.noCacheTokens';
export const ATTR_AI_USAGE_INPUT_CACHE_READ_TOKENS = 'ai.usage.inputTokenDetails.cacheReadTokens';
export const ATTR_AI_USAGE_INPUT_CACHE_WRITE_TOKENS = 'ai.usage.inputTokenDetails.cacheWriteTokens';
export const ATTR_AI_USAGE_OUTPUT_REASONING_TOKENS = 'ai.usage.outputTokenDetails.reasoningTokens';
/** Embedding calls (embed / embedMany). */
export const ATTR_AI_USAGE_TOKENS = 'ai.usage.tokens';

// --- standard OpenTelemetry attributes the collector attributes by ---
export const ATTR_SERVICE_NAME = 'service.name';
export const ATTR_DEPLOYMENT_ENVIRONMENT_NAME = 'deployment.environment.name';
export const ATTR_DEPLOYMENT_ENVIRONMENT_DEPRECATED = 'deployment.environment';
export const ATTR_ENDUSER_ID = 'enduser.id';

// --- tokenledger attribution (resource, context, baggage) ---
export const ATTR_TL_COST_CENTER = 'tokenledger.cost_center';
export const ATTR_TL_TEAM = 'tokenledger.team';
export const ATTR_TL_DEPARTMENT = 'tokenledger.department';
export const ATTR_TL_FEATURE = 'tokenledger.feature';
export const ATTR_TL_WORKFLOW = 'tokenledger.workflow';
export const ATTR_TL_CUSTOMER = 'tokenledger.customer';
export const ATTR_TL_USER_TIER = 'tokenledger.user_tier';
export const ATTR_TL_APPROVAL_ID = 'tokenledger.approval_id';
export const ATTR_TL_ENFORCEMENT = 'tokenledger.enforcement';
export const ATTR_TL_ORIGINAL_MODEL = 'tokenledger.original_model';
/** The policy (its name in the policy file) that blocked, downgraded or clamped the call. */
export const ATTR_TL_POLICY = 'tokenledger.policy';
/**
 * The part of gen_ai.usage.cache_creation.input_tokens written to a 1-hour cache (Anthropic's
 * `usage.cache_creation.ephemeral_1h_input_tokens`, Bedrock's `cacheDetails` with ttl 1h): Claude
 * bills it at 2× input, the 5-minute writes at 1.25×. The semantic conventions have no TTL split;
 * absent means 0.
 */
export const ATTR_TL_USAGE_CACHE_CREATION_1H_INPUT_TOKENS =
  'tokenledger.usage.cache_creation_1h.input_tokens';
/**
 * A call whose usage is only known later, from another span: an OpenAI background response
 * (`background: true`) answers `queued` and bills when it finishes. The collector stores no row for
 * this span; the span that reads the finished response (keyed, below) is the call's record.
 */
export const ATTR_TL_USAGE_DEFERRED = 'tokenledger.usage.deferred';
/**
 * The call's identity when several spans, from any process, may record the same call (every read
 * of a finished OpenAI background response: `openai.response:<id>`). The collector stores one row
 * per key, whichever span and process it comes from.
 */
export const ATTR_TL_CALL_KEY = 'tokenledger.call.key';
/** When a keyed call started, as the provider says (Unix seconds): the same in every span of the key. */
export const ATTR_TL_CALL_CREATED_AT = 'tokenledger.call.created_at';
/**
 * The budget leases (their ids, comma-separated) this call's cost was reserved from: once the
 * collector has stored the call, its cost counts as spent and no longer as held by those leases.
 */
export const ATTR_TL_LEASES = 'tokenledger.leases';
export const ENFORCEMENT_ALLOWED = 'allowed';
export const ENFORCEMENT_BLOCKED = 'blocked';
export const ENFORCEMENT_DOWNGRADED = 'downgraded';
export const ENFORCEMENT_CLAMPED = 'clamped';

/**
 * The attribution fields, one row each, named as an app sets them (`withAttribution`): the key each
 * travels under on spans, resources and baggage, and the name a policy file selects or requires it
 * by (`approvalId` is no policy field). `service` comes from the resource only (OTEL_SERVICE_NAME);
 * for `environment` the deprecated key is still read where the current one is absent.
 */
export const ATTRIBUTION_TABLE = {
  costCenter: { key: ATTR_TL_COST_CENTER, policyField: 'cost_center' },
  team: { key: ATTR_TL_TEAM, policyField: 'team' },
  department: { key: ATTR_TL_DEPARTMENT, policyField: 'department' },
  feature: { key: ATTR_TL_FEATURE, policyField: 'feature' },
  workflow: { key: ATTR_TL_WORKFLOW, policyField: 'workflow' },
  customer: { key: ATTR_TL_CUSTOMER, policyField: 'customer' },
  userTier: { key: ATTR_TL_USER_TIER, policyField: 'user_tier' },
  environment: {
    key: ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
    policyField: 'environment',
    deprecatedKey: ATTR_DEPLOYMENT_ENVIRONMENT_DEPRECATED,
  },
  user: { key: ATTR_ENDUSER_ID, policyField: 'user' },
  approvalId: { key: ATTR_TL_APPROVAL_ID },
  service: { key: ATTR_SERVICE_NAME, policyField: 'service' },
} as const;

type AttributionRow = { key: string; policyField?: string; deprecatedKey?: string };
const ATTRIBUTION_ROWS = Object.entries(ATTRIBUTION_TABLE) as Array<[AttributionTableField, AttributionRow]>;

export type AttributionTableField = keyof typeof ATTRIBUTION_TABLE;
/** The attribution fields' names in a policy file (`cost_center`, `user_tier`, ...). */
export type PolicyAttributionField = Extract<
  (typeof ATTRIBUTION_TABLE)[AttributionTableField],
  { policyField: string }
>['policyField'];
/** The fields an app can set with `withAttribution` (the service is the resource's). */
export type AttributionField = Exclude<AttributionTableField, 'service'>;
export type Attribution = Partial<Record<AttributionField, string>>;

/** Each field an app can set, and the span / baggage key it travels under. */
export const ATTRIBUTION_KEYS = Object.fromEntries(
  ATTRIBUTION_ROWS.filter(([field]) => field !== 'service').map(([field, row]) => [field, row.key]),
) as { readonly [F in AttributionField]: (typeof ATTRIBUTION_TABLE)[F]['key'] };

/** A policy file's attribution field (`cost_center`) → the table's field and its key. */
export const ATTRIBUTION_BY_POLICY_FIELD: Readonly<
  Record<string, { field: AttributionTableField; key: string } | undefined>
> = Object.fromEntries(
  ATTRIBUTION_ROWS.filter(([, row]) => row.policyField !== undefined).map(([field, row]) => [
    row.policyField,
    { field, key: row.key },
  ]),
);

// --- provider-specific names (one section per provider instrumentation) ---
// anthropic
/** The Message Batch a call belongs to (the Anthropic SDK's own name): set on one span per succeeded batch result. */
export const ATTR_ANTHROPIC_MESSAGE_BATCH_ID = 'anthropic.message.batch.id';
/** The app's `custom_id` of a batch request, to tell the results of one batch apart. */
export const ATTR_ANTHROPIC_MESSAGE_BATCH_CUSTOM_ID = 'anthropic.message.batch.custom_id';
/** Anthropic's `usage.service_tier` (standard, priority, batch); the SDK's own spans use the same name. */
export const ATTR_ANTHROPIC_RESPONSE_SERVICE_TIER = 'anthropic.response.service_tier';
// google-genai
/** `@google/genai` against the Gemini Developer API (generativelanguage.googleapis.com, API key). */
export const GEN_AI_PROVIDER_GCP_GEMINI = 'gcp.gemini';
/** `@google/genai` in Vertex AI mode (`vertexai: true`). */
export const GEN_AI_PROVIDER_GCP_VERTEX_AI = 'gcp.vertex_ai';
// mistral
export const GEN_AI_PROVIDER_MISTRAL_AI = 'mistral_ai';
// bedrock
export const GEN_AI_PROVIDER_AWS_BEDROCK = 'aws.bedrock';
/** Request id of a Bedrock call (`$metadata.requestId`), to find it in AWS's own logs. */
export const ATTR_AWS_REQUEST_ID = 'aws.request_id';
/** The Bedrock runtime command that made the call: Converse, ConverseStream, InvokeModel, ... */
export const ATTR_AWS_BEDROCK_COMMAND = 'aws.bedrock.command';
// openai-compatible
/** Providers recognised behind the `openai` SDK by base URL (semconv well-known values where they exist). */
export const GEN_AI_PROVIDER_GROQ = 'groq';
export const GEN_AI_PROVIDER_DEEPSEEK = 'deepseek';
export const GEN_AI_PROVIDER_X_AI = 'x_ai';
export const GEN_AI_PROVIDER_PERPLEXITY = 'perplexity';
export const GEN_AI_PROVIDER_TOGETHER = 'together';
export const GEN_AI_PROVIDER_OPENROUTER = 'openrouter';
export const GEN_AI_PROVIDER_FIREWORKS = 'fireworks';
/** Any other OpenAI-compatible server (vLLM, Ollama, LiteLLM, ...): priced through pricing overrides. */
export const GEN_AI_PROVIDER_OPENAI_COMPATIBLE = 'openai_compatible';

// --- collector input: foreign producers' names and HTTP client spans (shadow AI traffic) ---
/** The Anthropic TypeScript SDK's own spans (scope `com.anthropic.sdk.typescript`): cache writes. */
export const ATTR_GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC_SDK =
  'gen_ai.usage.cache_write.input_tokens';
/** HTTP client spans: the stable HTTP semantic conventions, and the pre-1.21 names older instrumentations write. */
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_URL_FULL = 'url.full';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_HTTP_METHOD_OLD = 'http.method';
export const ATTR_HTTP_URL_OLD = 'http.url';
export const ATTR_HTTP_TARGET_OLD = 'http.target';
export const ATTR_HTTP_HOST_OLD = 'http.host';
export const ATTR_HTTP_STATUS_CODE_OLD = 'http.status_code';
export const ATTR_NET_PEER_NAME_OLD = 'net.peer.name';
export const ATTR_NET_PEER_PORT_OLD = 'net.peer.port';
