import Hummingbird
import RechargeStore

/// Lets a request through only when its API key has `scope` (401 without a key, 403 with a narrower one): a route
/// group says once what its routes need, instead of each handler checking it.
struct RequireScope: RouterMiddleware {
    typealias Context = RechargeRequestContext
    let scope: APIKeyScope

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        _ = try context.require(scope)
        return try await next(request, context)
    }
}

extension RouterGroup where Context == RechargeRequestContext {
    /// A group of this one's routes that need an API key with `scope`.
    func requiring(_ scope: APIKeyScope) -> RouterGroup<Context> {
        group().add(middleware: RequireScope(scope: scope))
    }
}

extension RechargeRequestContext {
    /// The API key the group's ``RequireScope`` let through (for handlers that record who acted).
    func authenticatedKey() throws -> APIKeyRecord {
        guard let apiKey else { throw Problem.unauthorized("A valid API key is required: send 'Authorization: Bearer <key>'.") }
        return apiKey
    }
}
