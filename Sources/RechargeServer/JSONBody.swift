import Foundation
import Hummingbird
import NIOCore
import RechargeCore

/// A request body type whose accepted fields are listed per JSON path, so a misspelt field ("ammount")
/// is an error instead of being silently ignored.
protocol StrictlyDecodable: Decodable {
    /// Allowed keys of each JSON object, by its dotted path from the root ("" is the root).
    static var allowedFields: [String: Set<String>] { get }
}

enum JSONBody {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected an RFC 3339 date-time such as 2026-12-31T23:59:59Z, got '\(text)'"))
            }
            return date
        }
        return decoder
    }()

    /// The raw body, at most `limit` bytes; more is `413`.
    static func collect(_ request: Request, upTo limit: Int) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw Problem.bodyTooLarge(limit: limit)
        }
    }

    /// Reads the body (at most the context's upload limit) and decodes it, turning every failure into a
    /// problem that names the offending field.
    static func decode<T: StrictlyDecodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw Problem.bodyTooLarge(limit: context.maxUploadSize)
        }
        guard buffer.readableBytes > 0 else { throw Problem.malformedBody("The request body is empty; a JSON object is expected.") }
        // One parse: the envelope checks every object's field names against `allowedFields` through the
        // decoder's own containers, then decodes `T` from the same decoder.
        do {
            return try decoder.decode(StrictEnvelope<T>.self, from: Data(buffer: buffer, byteTransferStrategy: .noCopy)).value
        } catch let problem as Problem {
            throw problem
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty, context.underlyingError != nil || context.debugDescription.contains("JSON") {
                throw Problem.malformedBody("The request body is not valid JSON.")
            }
            throw problem(for: error)
        } catch let error as RechargeError {
            throw Problem(error)
        }
    }

    /// Decodes `T` after checking, in the same pass, that every object holds only the fields its path allows.
    private struct StrictEnvelope<T: StrictlyDecodable>: Decodable {
        let value: T

        init(from decoder: any Decoder) throws {
            guard let root = try? decoder.container(keyedBy: AnyKey.self) else {
                throw Problem.malformedBody("The request body must be a JSON object.")
            }
            try Self.check(root, path: "")
            value = try T(from: decoder)
        }

        /// One array element: an object is checked, anything else is left alone.
        struct Element: Decodable {
            let object: KeyedDecodingContainer<AnyKey>?
            init(from decoder: any Decoder) throws { object = try? decoder.container(keyedBy: AnyKey.self) }
            func check(path: String) throws { if let object { try StrictEnvelope.check(object, path: path) } }
        }

        fileprivate static func check(_ object: KeyedDecodingContainer<AnyKey>, path: String) throws {
            let permitted = T.allowedFields[path] ?? []
            for key in object.allKeys {
                let childPath = path.isEmpty ? key.stringValue : "\(path).\(key.stringValue)"
                guard permitted.contains(key.stringValue) else {
                    throw Problem.malformedBody("Unknown field '\(childPath)'.", field: childPath)
                }
                // Objects (and arrays of objects) whose fields are listed are checked in turn; a value of
                // another type is left to `T`'s decoding, which names the expected type.
                guard T.allowedFields[childPath] != nil else { continue }
                if let child = try? object.nestedContainer(keyedBy: AnyKey.self, forKey: key) {
                    try check(child, path: childPath)
                } else if var elements = try? object.nestedUnkeyedContainer(forKey: key) {
                    while !elements.isAtEnd {
                        try elements.decode(Element.self).check(path: childPath)
                    }
                }
            }
        }
    }

    fileprivate struct AnyKey: CodingKey {
        let stringValue: String
        let intValue: Int? = nil
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func problem(for error: DecodingError) -> Problem {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            return .malformedBody("Field '\(field)' has the wrong type: expected \(describe(type)).", field: field)
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return .malformedBody("Field '\(field)' must not be null: expected \(describe(type)).", field: field)
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return .malformedBody("Field '\(field)' is required.", field: field)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            return .malformedBody(field.isEmpty ? context.debugDescription : "Field '\(field)' is invalid: \(context.debugDescription)", field: field.isEmpty ? nil : field)
        @unknown default:
            return .malformedBody("The request body could not be decoded.")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int64.Type, is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        default: "a JSON \(type is [Any].Type ? "array" : "object")"
        }
    }
}

/// RFC 3339 timestamps, with or without fractional seconds.
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }

    /// `2026-11-23T10:00:00.123Z`: UTC, milliseconds (the instant's microseconds truncated toward the past),
    /// the layout of `Date.ISO8601FormatStyle(includingFractionalSeconds: true)` written with integer
    /// arithmetic: every response carries timestamps, and the format style costs microseconds each (and
    /// loses a millisecond to float truncation on some instants, which this does not).
    static func format(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let millis = micros >= 0 ? micros / 1000 : (micros - 999) / 1000
        let (days, dayMillis) = millis.quotientAndRemainder(dividingBy: 86_400_000)
        let (day, ms) = dayMillis < 0 ? (days - 1, dayMillis + 86_400_000) : (days, dayMillis)
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let dayOfMonth = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        guard (0...9999).contains(year) else { return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }
        let seconds = ms / 1000
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int64, _ width: Int, at offset: Int) {
                var value = value
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, 4, at: 0); buffer[4] = UInt8(ascii: "-")
            put(month, 2, at: 5); buffer[7] = UInt8(ascii: "-")
            put(dayOfMonth, 2, at: 8); buffer[10] = UInt8(ascii: "T")
            put(seconds / 3600, 2, at: 11); buffer[13] = UInt8(ascii: ":")
            put(seconds / 60 % 60, 2, at: 14); buffer[16] = UInt8(ascii: ":")
            put(seconds % 60, 2, at: 17); buffer[19] = UInt8(ascii: ".")
            put(ms % 1000, 3, at: 20); buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }
}
