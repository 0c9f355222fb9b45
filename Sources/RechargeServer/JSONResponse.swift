import Foundation
import HTTPTypes
import Hummingbird
import RechargeCore

/// A JSON body with its status, for every API reply: sorted keys and unescaped slashes, so equal values give equal
/// bytes (stored results and replays are compared byte for byte).
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The same bytes as the `Encodable` path, written by hand: top-up and balance responses.
    static func make(_ value: some JSONWritable, status: HTTPResponse.Status = .ok) throws -> Response {
        var json = JSONWriter(capacity: 768)
        value.write(to: &json)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}
