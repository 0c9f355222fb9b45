import Foundation
import RechargeCore
import Yams

/// Reads a catalog file (YAML, or JSON, which is YAML too) into a checked ``Catalog``. Unknown fields are
/// errors, as in API bodies: a misspelt `validityDay` must not silently sell a pack without validity.
///
/// The text comes from an API caller (`PUT /v1/catalog`) and is bounded before anything expands it: at most
/// ``maximumBytes``, no anchors or aliases (a 400-byte "billion laughs" of nested aliases otherwise expands to
/// gigabytes in the decoder), and at most ``maximumDepth`` levels of nesting. A catalog needs none of them.
public enum CatalogFile {
    /// The largest catalog accepted (a real one with hundreds of products is a few tens of KiB).
    public static let maximumBytes = 1 << 20
    /// The deepest nesting accepted (a catalog is five levels deep).
    public static let maximumDepth = 16

    public static func parse(_ text: String) throws(RechargeError) -> Catalog {
        guard text.utf8.count <= maximumBytes else {
            throw .invalidCatalog("the file is larger than \(maximumBytes / 1024) KiB")
        }
        try checkStructure(text)
        let tree: Any?
        do {
            tree = try Yams.load(yaml: text)
        } catch {
            throw .invalidCatalog("not valid YAML or JSON: \(error)")
        }
        guard let root = tree as? [String: Any] else { throw .invalidCatalog("the file must be a mapping with 'products'") }
        try checkFields(root, path: "")
        let definition: CatalogDefinition
        do {
            definition = try YAMLDecoder().decode(CatalogDefinition.self, from: text)
        } catch let error as DecodingError {
            throw .invalidCatalog(describe(error))
        } catch {
            throw .invalidCatalog("\(error)")
        }
        return try Catalog(definition)
    }

    /// The demo catalog shipped with the server (`serve --demo`, `catalog demo`).
    public static func demoText() throws -> String {
        guard let url = Bundle.module.url(forResource: "demo-catalog", withExtension: "yaml") else {
            throw RechargeError.invalidCatalog("the bundled demo catalog is missing")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Refuses anchors, aliases and deep flow nesting by a scan of the bytes, before Yams sees the text: composing
    /// is itself not safe (it hashes mapping keys, and an aliased key hashes its whole expansion; nesting is
    /// followed by recursion). The scan does not know quotes, so it errs one way only: a quoted value with a word
    /// starting with `&` or `*` is refused too (the message says why), but no alias can pass unseen.
    static func checkStructure(_ text: String) throws(RechargeError) {
        let bytes = Array(text.utf8)
        var depth = 0
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                guard depth <= maximumDepth else { throw .invalidCatalog("nested deeper than \(maximumDepth) levels") }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
            case UInt8(ascii: "&"), UInt8(ascii: "*"):
                let startsToken = index == 0 || Self.tokenBoundary.contains(bytes[index - 1])
                let named = index + 1 < bytes.count && !Self.nameEnd.contains(bytes[index + 1])
                if startsToken && named {
                    throw .invalidCatalog("YAML anchors and aliases (&name, *name) are not accepted in a catalog: write each value out (a text with a word starting with & or * is refused too: reword it)")
                }
            default:
                continue
            }
        }
    }

    /// Bytes after which a YAML node (and so an anchor or alias) may start.
    private static let tokenBoundary: Set<UInt8> = Set(" \t\r\n[]{},:?-".utf8)
    /// Bytes that cannot begin an anchor's name (YAML 1.2 ns-anchor-char excludes white space and flow indicators).
    private static let nameEnd: Set<UInt8> = Set(" \t\r\n[]{},".utf8)

    private static func checkFields(_ object: [String: Any], path: String) throws(RechargeError) {
        guard let allowed = CatalogDefinition.allowedFields[path] else { return }
        for (key, value) in object {
            let child = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else { throw .invalidCatalog("unknown field '\(child)'") }
            if let nested = value as? [String: Any] {
                try checkFields(nested, path: child)
            } else if let list = value as? [Any] {
                for element in list { if let nested = element as? [String: Any] { try checkFields(nested, path: child) } }
            }
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "field '\(path(context.codingPath + [key]))' is required"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "field '\(path(context.codingPath))': \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
