import Foundation
import Hummingbird
import Logging
import RechargeCore
import RechargeStore

/// An RFC 9457 problem details document, sent as `application/problem+json`.
public struct Problem: Error, Sendable, Encodable, Equatable {
    public let type: String
    public let title: String
    public let status: Int
    public let detail: String
    public var instance: String?
    /// The stable slug of the failure (the last path segment of `type`), for clients that switch on it.
    public let code: String
    /// For body decoding errors: the JSON path of the offending field.
    public var field: String?

    public static let typeBase = "https://recharge.dev/problems/"

    public init(status: HTTPResponse.Status, code: String, title: String, detail: String, field: String? = nil) {
        self.type = Problem.typeBase + code
        self.title = title
        self.status = Int(status.code)
        self.detail = detail
        self.code = code
        self.field = field
    }

    /// The problem for a domain error, with the HTTP status that suits it.
    public init(_ error: RechargeError) {
        self.init(status: Problem.status(for: error), code: error.code, title: error.title, detail: error.detail)
    }

    static func status(for error: RechargeError) -> HTTPResponse.Status {
        switch error {
        case .invalidRequest, .unknownCurrency, .invalidAmount, .nonPositiveAmount, .amountOverflow, .invalidMSISDN,
             .invalidICCID, .invalidCursor, .missingIdempotencyKey, .invalidIdempotencyKey, .invalidCatalog, .paymentNotVerified:
            .badRequest
        case .lineNotFound, .orderNotFound:
            .notFound
        case .lineAlreadyExists, .iccidInUse, .illegalLineTransition, .lineNotActive, .idempotencyKeyReused, .illegalOrderTransition:
            .conflict
        case .currencyMismatch, .insufficientBalance, .productNotFound, .paymentMethodUnavailable, .paymentMismatch, .promotionUnavailable:
            .unprocessableContent
        }
    }

    static func unauthorized(_ detail: String) -> Problem {
        Problem(status: .unauthorized, code: "unauthorized", title: "Authentication required", detail: detail)
    }

    static func forbidden(_ detail: String) -> Problem {
        Problem(status: .forbidden, code: "forbidden", title: "Insufficient scope", detail: detail)
    }

    static func malformedBody(_ detail: String, field: String? = nil) -> Problem {
        Problem(status: .badRequest, code: "malformed-body", title: "The request body is not valid", detail: detail, field: field)
    }

    /// A payment provider could not be reached or refused the call: nothing was charged; the client retries with
    /// the same Idempotency-Key.
    static func providerUnavailable(_ detail: String) -> Problem {
        Problem(status: .badGateway, code: "payment-provider-unavailable", title: "Payment provider unavailable", detail: detail)
    }

    static func bodyTooLarge(limit: Int?) -> Problem {
        Problem(status: .contentTooLarge, code: "body-too-large", title: "Request body too large",
                detail: limit.map { "Request bodies are limited to \($0 / 1024) KiB." } ?? "The request body is too large.")
    }

    static func notFound(path: String) -> Problem {
        Problem(status: .notFound, code: "not-found", title: "Not found", detail: "No resource at \(path).")
    }

    static let internalError = Problem(
        status: .internalServerError, code: "internal-error", title: "Internal server error",
        detail: "The request could not be completed. Nothing was applied unless a retry with the same Idempotency-Key says otherwise.")

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if status == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"recharge\"" }
        if status == 503 { headers[.retryAfter] = "1" }
        let body = (try? Problem.encoder.encode(self)) ?? Data()
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns every error a handler throws into problem+json: domain errors by their kind, Hummingbird's own
/// HTTP errors (404, 405, 413) by their status, anything else as a 500 that is logged but not described.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var problem = Self.problem(for: error, request: request, logger: context.logger)
            var allowed: [String] = []
            if problem.status == 404, (error as? HTTPError)?.status == .notFound {
                allowed = routes.allowedMethods(for: request.uri.path)
                if !allowed.isEmpty {
                    problem = Problem(status: .methodNotAllowed, code: "method-not-allowed", title: "Method not allowed",
                                      detail: "\(request.method) is not allowed on \(request.uri.path); use \(allowed.joined(separator: ", ")).")
                }
            }
            problem.instance = request.uri.path
            var response = problem.response()
            // A stored refusal answered to a retry says so, as a replayed success does.
            response.markReplayed(error is ReplayedRefusal)
            if !allowed.isEmpty { response.headers[.allow] = allowed.joined(separator: ", ") }
            return response
        }
    }

    static func problem(for error: any Error, request: Request, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as RechargeError:
            return Problem(error)
        case let replay as ReplayedRefusal:
            return Problem(replay.refusal)
        case DatabaseError.unavailable:
            return Problem(status: .serviceUnavailable, code: "database-unavailable", title: "Temporarily unavailable",
                           detail: "The database cannot be reached. Nothing was applied; retry with the same Idempotency-Key.")
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .notFound(path: request.uri.path)
            case .contentTooLarge:
                return .bodyTooLarge(limit: nil)
            case .methodNotAllowed:
                return Problem(status: .methodNotAllowed, code: "method-not-allowed", title: "Method not allowed", detail: "\(request.method) is not allowed on \(request.uri.path).")
            default:
                return Problem(status: error.status, code: "http-\(error.status.code)", title: error.status.reasonPhrase, detail: error.body ?? error.status.reasonPhrase)
            }
        default:
            logger.error("Unhandled error", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            return .internalError
        }
    }
}
