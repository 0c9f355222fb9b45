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
        let data = Data(buffer: buffer)
        guard !data.isEmpty else { throw Problem.malformedBody("The request body is empty; a JSON object is expected.") }
        let tree: Any
        do {
            tree = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw Problem.malformedBody("The request body is not valid JSON.")
        }
        guard tree is [String: Any] else { throw Problem.malformedBody("The request body must be a JSON object.") }
        try checkFields(tree, path: "", allowed: T.allowedFields)
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw problem(for: error)
        } catch let error as RechargeError {
            throw Problem(error)
        }
    }

    private static func checkFields(_ value: Any, path: String, allowed: [String: Set<String>]) throws {
        if let object = value as? [String: Any] {
            let permitted = allowed[path] ?? []
            for (key, child) in object {
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                guard permitted.contains(key) else {
                    throw Problem.malformedBody("Unknown field '\(childPath)'.", field: childPath)
                }
                try checkFields(child, path: childPath, allowed: allowed)
            }
        } else if let array = value as? [Any] {
            for element in array { try checkFields(element, path: path, allowed: allowed) }
        }
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

    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
