package fakemodel

// Error bodies as the real services send them. Pass them to FailWith or
// FailNext with the status named in each comment.
const (
	// AnthropicRateLimit goes with HTTP 429.
	AnthropicRateLimit = `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."},"request_id":"req_011CfakemodelRateLimit"}`
	// AnthropicAuth goes with HTTP 401.
	AnthropicAuth = `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CfakemodelAuth"}`

	// GeminiRateLimit goes with HTTP 429.
	GeminiRateLimit = `{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`
	// GeminiAuth goes with HTTP 401.
	GeminiAuth = `{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","status":"UNAUTHENTICATED"}}`

	// OpenAIRateLimit goes with HTTP 429.
	OpenAIRateLimit = `{"error":{"message":"Rate limit reached for requests. Please try again later.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`
	// OpenAIAuth goes with HTTP 401.
	OpenAIAuth = `{"error":{"message":"Authentication Fails, Your api key: ****1234 is invalid","type":"authentication_error","param":null,"code":"invalid_request_error"}}`

	// DeepSeekInsufficientBalance goes with HTTP 402.
	DeepSeekInsufficientBalance = `{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}`

	// GLMRateLimit goes with HTTP 429 (GLM also sends business errors in
	// an HTTP 200): code "1302", retryable.
	GLMRateLimit = `{"error":{"code":"1302","message":"High concurrency usage of this API, please reduce concurrency or contact customer service to increase limits"}}`
	// GLMNoBalance goes with HTTP 429 too: code "1113", final.
	GLMNoBalance = `{"error":{"code":"1113","message":"Insufficient balance or no resource package. Please recharge."}}`
)
