import AsyncHTTPClient
import Foundation

/// One HTTP exchange with a provider gateway, shared by the Alipay and WeChat Pay clients: send, collect
/// the whole body (bounded), and sort failures into "no answer" (timed out, network) and "answered".
enum ProviderHTTPTransport {
    struct Response {
        let status: Int
        /// Header names as sent; a repeated header keeps its last value.
        let headers: [String: String]
        let body: Data
    }

    enum Failure: Error, Equatable {
        case timedOut
        case network(reason: String)
        /// The gateway answered with `status` but its body did not arrive whole.
        case bodyNotRead(status: Int, reason: String)
    }

    /// Larger answers are not the small JSON objects these gateways send for the calls we make.
    static let maximumResponseBytes = 1 << 20

    static func send(
        _ request: HTTPClientRequest, on httpClient: HTTPClient, timeout: Duration
    ) async throws(Failure) -> Response {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, timeout: .nanoseconds(nanoseconds))
        } catch {
            throw classify(error)
        }
        let status = Int(response.status.code)
        do {
            let body = Data(try await response.body.collect(upTo: maximumResponseBytes).readableBytesView)
            var headers: [String: String] = [:]
            for (name, value) in response.headers { headers[name] = value }
            return Response(status: status, headers: headers, body: body)
        } catch {
            let failure = classify(error)
            throw failure == .timedOut ? failure : .bodyNotRead(status: status, reason: "\(error)")
        }
    }

    static func classify(_ error: any Error) -> Failure {
        if let error = error as? HTTPClientError,
            [.deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout,
             .getConnectionFromPoolTimeout].contains(error)
        {
            return .timedOut
        }
        return .network(reason: String(describing: error))
    }

    static func join(_ baseURL: String, _ path: String) -> String {
        (baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL) + path
    }
}
