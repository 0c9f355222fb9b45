import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A minimal in-memory XML tree keyed by local names. camt.053 versions differ only in their namespace
/// URI for the elements read here, so ignoring namespaces lets one reader serve .001.02 to .001.08.
struct XMLElementTree: Sendable {
    var name: String
    var attributes: [String: String]
    var text: String
    var children: [XMLElementTree]

    func child(_ name: String) -> XMLElementTree? { children.first { $0.name == name } }
    func children(_ name: String) -> [XMLElementTree] { children.filter { $0.name == name } }

    /// The element at a slash-separated path of local names below this one.
    func at(_ path: String) -> XMLElementTree? {
        var node: XMLElementTree? = self
        for step in path.split(separator: "/") { node = node?.child(String(step)) }
        return node
    }

    /// Trimmed text at `path`, or nil when the element is absent or empty.
    func value(_ path: String) -> String? {
        guard let text = at(path)?.text.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }

    static func parse(_ data: Data) throws(BankingError) -> XMLElementTree {
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.delegate = builder
        parser.shouldProcessNamespaces = true
        // Statements come from outside; never fetch DTDs or expand external entities.
        parser.shouldResolveExternalEntities = false
        let ok = parser.parse()
        guard ok, let root = builder.root else {
            let reason = parser.parserError.map { ($0 as NSError).localizedDescription } ?? "no root element"
            throw .malformedXML(line: parser.lineNumber, column: parser.columnNumber, reason: reason)
        }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLElementTree] = []
        var root: XMLElementTree?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            stack.append(XMLElementTree(name: local, attributes: attributeDict, text: "", children: []))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            guard !stack.isEmpty, let string = String(data: CDATABlock, encoding: .utf8) else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            guard let finished = stack.popLast() else { return }
            if stack.isEmpty {
                root = finished
            } else {
                stack[stack.count - 1].children.append(finished)
            }
        }
    }
}
