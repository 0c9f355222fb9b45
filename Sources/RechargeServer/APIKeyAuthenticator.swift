import Hummingbird
import RechargeStore

/// Reads `Authorization: Bearer <key>` and records the key in the context. A missing, malformed, unknown
/// or revoked key is 401 here; scope checks (403) happen in each handler via ``RechargeRequestContext/require(_:)``.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = RechargeRequestContext
    let keys: APIKeyStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("Send an operator API key as 'Authorization: Bearer <key>'.")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthorized("The Authorization header must be 'Bearer <key>'.")
        }
        // Trimmed on the Substring itself: Foundation's trimmingCharacters(in:) bridges through NSString.
        var secret = parts[1]
        while let first = secret.first, first == " " || first == "\t" { secret = secret.dropFirst() }
        while let last = secret.last, last == " " || last == "\t" { secret = secret.dropLast() }
        guard let key = try await keys.verify(String(secret)) else {
            throw Problem.unauthorized("The API key is unknown or has been revoked.")
        }
        var context = context
        context.apiKey = key
        return try await next(request, context)
    }
}
