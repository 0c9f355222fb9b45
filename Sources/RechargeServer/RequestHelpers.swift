import HTTPTypes
import Hummingbird
import RechargeCore

extension HTTPField.Name {
    /// The client's key that makes a write safe to retry.
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// `true` on the answer to a retried write: the first result, nothing changed.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}

extension RechargeRequestContext {
    /// The line's number from the `{msisdn}` path segment, as typed (percent-decoded), in E.164.
    func msisdn() throws -> MSISDN {
        let raw = parameters.get("msisdn") ?? ""
        return try MSISDN(raw.removingPercentEncoding ?? raw)
    }
}

extension Request {
    /// The path's segment `fromEnd` places before its last one (0: the last), or "" when the path is shorter: the
    /// portal's `/orders/{id}`, `/orders/{id}/receipt`, `/quick/orders/{token}/state` … read their id this way (its
    /// handlers see the request, not the router's context).
    func pathSegment(fromEnd offset: Int = 0) -> String {
        let parts = uri.path.split(separator: "/")
        return parts.count > offset ? String(parts[parts.count - 1 - offset]) : ""
    }

    /// The request's `Idempotency-Key`, validated; a write without one is refused.
    func idempotencyKey() throws -> IdempotencyKey {
        guard let value = headers[.idempotencyKey] else { throw RechargeError.missingIdempotencyKey }
        return try IdempotencyKey(value)
    }
}

extension Response {
    /// Marks the answer to a retried write (`Idempotent-Replayed: true`).
    mutating func markReplayed(_ replayed: Bool) {
        if replayed { headers[.idempotentReplayed] = "true" }
    }
}
