import Hummingbird
import NIOCore
import RechargeStore

/// Per-request state: Hummingbird's core storage plus the operator API key that authenticated the request.
public struct RechargeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``APIKeyAuthenticator`` on `/v1` routes.
    public var apiKey: APIKeyRecord?
    /// The connection's peer (nil without a socket, in in-process tests): what the portal's per-client limits
    /// count, through ``ClientAddressRule``.
    public let remoteAddress: SocketAddress?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.apiKey = nil
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Request bodies are small JSON documents; anything larger is refused with 413 before it is read.
    public var maxUploadSize: Int { 64 * 1024 }

    /// Throws 401 if no key authenticated the request, 403 if its scope is too narrow.
    func require(_ scope: APIKeyScope) throws -> APIKeyRecord {
        guard let key = apiKey else { throw Problem.unauthorized("A valid API key is required: send 'Authorization: Bearer <key>'.") }
        guard key.scope.allows(scope) else {
            throw Problem.forbidden("API key '\(key.prefix)' has scope '\(key.scope.rawValue)'; this needs '\(scope.rawValue)'.")
        }
        return key
    }
}
