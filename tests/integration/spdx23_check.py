#!/usr/bin/env python3
"""spdx23_check.py SBOM.json [N_PACKAGES] — checks an SPDX 2.3 JSON document.

The official SPDX 2.3 JSON schema cannot be fetched on this offline machine
(no Debian or npm package ships it), so this script checks what that schema
and the SPDX 2.3 specification require, written out here:

  * document: spdxVersion "SPDX-2.3", dataLicense "CC0-1.0", SPDXID
    "SPDXRef-DOCUMENT", name, documentNamespace (an absolute URI without '#'),
    creationInfo {created: YYYY-MM-DDThh:mm:ssZ, creators: ["Tool: …" |
    "Organization: …" | "Person: …", at least one]};
  * every object carries only the properties the schema defines
    (additionalProperties is false throughout the schema);
  * packages: SPDXID (SPDXRef-[A-Za-z0-9.-]+, unique), name, downloadLocation
    (NONE, NOASSERTION or a URI); filesAnalyzed false unless a
    packageVerificationCode is given; checksums {algorithm from the schema's
    list, checksumValue lower-case hex of the algorithm's length};
    externalRefs {referenceCategory in the schema's enum, referenceType,
    referenceLocator without spaces; purl locators start with "pkg:"};
    primaryPackagePurpose in the schema's enum;
  * relationships: relationshipType in the schema's enum, both ends refer to
    an element of this document; the document DESCRIBES something.

If $SPDX_SCHEMA names a copy of the official schema file, the document is also
validated against it with python3-jsonschema.  With N_PACKAGES, the document
must list exactly N_PACKAGES packages besides the one the document describes.
Exit 0 when valid; 1 with one line per problem otherwise.
"""
import json
import os
import re
import sys

DOC_PROPS = {"SPDXID", "annotations", "comment", "creationInfo", "dataLicense", "externalDocumentRefs",
             "hasExtractedLicensingInfos", "name", "revieweds", "spdxVersion", "documentNamespace",
             "documentDescribes", "packages", "files", "snippets", "relationships"}
CREATION_PROPS = {"comment", "created", "creators", "licenseListVersion"}
PACKAGE_PROPS = {"SPDXID", "annotations", "attributionTexts", "builtDate", "checksums", "comment", "copyrightText",
                 "description", "downloadLocation", "externalRefs", "filesAnalyzed", "hasFiles", "homepage",
                 "licenseComments", "licenseConcluded", "licenseDeclared", "licenseInfoFromFiles", "name",
                 "originator", "packageFileName", "packageVerificationCode", "primaryPackagePurpose",
                 "releaseDate", "sourceInfo", "summary", "supplier", "validUntilDate", "versionInfo"}
CHECKSUM_ALGS = {"SHA1": 40, "SHA224": 56, "SHA256": 64, "SHA384": 96, "SHA512": 128, "MD2": 32, "MD4": 32,
                 "MD5": 32, "MD6": None, "SHA3-256": 64, "SHA3-384": 96, "SHA3-512": 128, "BLAKE2b-256": 64,
                 "BLAKE2b-384": 96, "BLAKE2b-512": 128, "BLAKE3": None, "ADLER32": 8}
REF_CATEGORIES = {"OTHER", "PERSISTENT-ID", "SECURITY", "PACKAGE-MANAGER"}
PURPOSES = {"OTHER", "INSTALL", "ARCHIVE", "FIRMWARE", "APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER",
            "SOURCE", "DEVICE", "OPERATING_SYSTEM", "FILE"}
REL_TYPES = {"VARIANT_OF", "COPY_OF", "PATCH_FOR", "TEST_DEPENDENCY_OF", "CONTAINED_BY", "DATA_FILE_OF",
             "OPTIONAL_COMPONENT_OF", "ANCESTOR_OF", "GENERATES", "CONTAINS", "OPTIONAL_DEPENDENCY_OF",
             "FILE_ADDED", "REQUIREMENT_DESCRIPTION_FOR", "DEV_DEPENDENCY_OF", "DEPENDENCY_OF",
             "BUILD_DEPENDENCY_OF", "DESCRIBES", "PREREQUISITE_FOR", "HAS_PREREQUISITE", "PROVIDED_DEPENDENCY_OF",
             "DYNAMIC_LINK", "DESCRIBED_BY", "METAFILE_OF", "DEPENDENCY_MANIFEST_OF", "PATCH_APPLIED",
             "RUNTIME_DEPENDENCY_OF", "TEST_OF", "TEST_TOOL_OF", "DEPENDS_ON", "SPECIFICATION_FOR", "FILE_MODIFIED",
             "DISTRIBUTION_ARTIFACT", "AMENDS", "DOCUMENTATION_OF", "GENERATED_FROM", "STATIC_LINK", "OTHER",
             "BUILD_TOOL_OF", "TEST_CASE_OF", "PACKAGE_OF", "DESCENDANT_OF", "FILE_DELETED",
             "EXPANDED_FROM_ARCHIVE", "DEV_TOOL_OF", "EXAMPLE_OF"}
SPDXID_RE = re.compile(r"^SPDXRef-[A-Za-z0-9.\-]+$")
URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^\s#]+$")
CREATED_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def check(doc, n_packages=None):
    errs = []

    def err(msg):
        errs.append(msg)

    def only(obj, allowed, where):
        if not isinstance(obj, dict):
            err(f"{where}: not an object")
            return False
        for k in obj:
            if k not in allowed:
                err(f"{where}: property '{k}' is not defined by SPDX 2.3")
        return True

    def string(obj, key, where, required=True):
        v = obj.get(key)
        if v is None:
            if required:
                err(f"{where}: missing '{key}'")
            return None
        if not isinstance(v, str) or not v:
            err(f"{where}: '{key}' must be a non-empty string")
            return None
        return v

    if not only(doc, DOC_PROPS, "document"):
        return errs
    if doc.get("spdxVersion") != "SPDX-2.3":
        err(f"document: spdxVersion is {doc.get('spdxVersion')!r}, not 'SPDX-2.3'")
    if doc.get("dataLicense") != "CC0-1.0":
        err("document: dataLicense must be CC0-1.0")
    if doc.get("SPDXID") != "SPDXRef-DOCUMENT":
        err("document: SPDXID must be SPDXRef-DOCUMENT")
    string(doc, "name", "document")
    ns = string(doc, "documentNamespace", "document")
    if ns and not URI_RE.match(ns):
        err(f"document: documentNamespace {ns!r} is not an absolute URI without '#'")
    ci = doc.get("creationInfo")
    if ci is None:
        err("document: missing creationInfo")
    elif only(ci, CREATION_PROPS, "creationInfo"):
        c = string(ci, "created", "creationInfo")
        if c and not CREATED_RE.match(c):
            err(f"creationInfo: created {c!r} is not YYYY-MM-DDThh:mm:ssZ")
        cr = ci.get("creators")
        if not isinstance(cr, list) or not cr:
            err("creationInfo: creators must be a non-empty list")
        else:
            for x in cr:
                if not isinstance(x, str) or not re.match(r"^(Tool|Organization|Person): \S", x):
                    err(f"creationInfo: creator {x!r} is not 'Tool: …', 'Organization: …' or 'Person: …'")

    ids = {"SPDXRef-DOCUMENT"}
    pkgs = doc.get("packages", [])
    if not isinstance(pkgs, list):
        err("document: packages must be a list")
        pkgs = []
    for i, p in enumerate(pkgs):
        where = f"packages[{i}]"
        if not only(p, PACKAGE_PROPS, where):
            continue
        sid = string(p, "SPDXID", where)
        if sid:
            if not SPDXID_RE.match(sid):
                err(f"{where}: SPDXID {sid!r} has characters SPDX does not allow")
            if sid in ids:
                err(f"{where}: SPDXID {sid!r} is not unique")
            ids.add(sid)
        string(p, "name", where)
        dl = string(p, "downloadLocation", where)
        if dl and dl not in ("NONE", "NOASSERTION") and not URI_RE.match(dl.split("#")[0]):
            err(f"{where}: downloadLocation {dl!r} is not NONE, NOASSERTION or a URI")
        fa = p.get("filesAnalyzed", True)
        if not isinstance(fa, bool):
            err(f"{where}: filesAnalyzed must be a boolean")
        elif fa and "packageVerificationCode" not in p:
            err(f"{where}: filesAnalyzed is true (the default) but there is no packageVerificationCode")
        for j, c in enumerate(p.get("checksums", [])):
            w = f"{where}.checksums[{j}]"
            if only(c, {"algorithm", "checksumValue"}, w):
                alg, val = c.get("algorithm"), c.get("checksumValue")
                if alg not in CHECKSUM_ALGS:
                    err(f"{w}: algorithm {alg!r} is not an SPDX checksum algorithm")
                elif not isinstance(val, str) or not re.match(r"^[0-9a-f]+$", val):
                    err(f"{w}: checksumValue must be lower-case hex")
                elif CHECKSUM_ALGS[alg] and len(val) != CHECKSUM_ALGS[alg]:
                    err(f"{w}: a {alg} value has {CHECKSUM_ALGS[alg]} hex digits, not {len(val)}")
        for j, r in enumerate(p.get("externalRefs", [])):
            w = f"{where}.externalRefs[{j}]"
            if only(r, {"comment", "referenceCategory", "referenceLocator", "referenceType"}, w):
                if r.get("referenceCategory") not in REF_CATEGORIES:
                    err(f"{w}: referenceCategory {r.get('referenceCategory')!r} is not allowed")
                t = string(r, "referenceType", w)
                loc = string(r, "referenceLocator", w)
                if loc and re.search(r"\s", loc):
                    err(f"{w}: referenceLocator has spaces")
                if t == "purl" and loc and not re.match(r"^pkg:[a-z][a-z0-9.+\-]*/[^@?#\s]+(@[^?#\s]+)?(\?\S*)?$", loc):
                    err(f"{w}: {loc!r} is not a package URL")
        if "primaryPackagePurpose" in p and p["primaryPackagePurpose"] not in PURPOSES:
            err(f"{where}: primaryPackagePurpose {p['primaryPackagePurpose']!r} is not allowed")
        for key in ("versionInfo", "packageFileName", "licenseConcluded", "licenseDeclared", "copyrightText",
                    "supplier", "originator"):
            if key in p and not isinstance(p[key], str):
                err(f"{where}: {key} must be a string")

    described = []
    for i, r in enumerate(doc.get("relationships", [])):
        w = f"relationships[{i}]"
        if not only(r, {"spdxElementId", "comment", "relatedSpdxElement", "relationshipType"}, w):
            continue
        t = r.get("relationshipType")
        if t not in REL_TYPES:
            err(f"{w}: relationshipType {t!r} is not an SPDX 2.3 relationship")
        for end in ("spdxElementId", "relatedSpdxElement"):
            v = string(r, end, w)
            if v and v not in ids and v not in ("NONE", "NOASSERTION"):
                err(f"{w}: {end} {v!r} is not an element of this document")
        if t == "DESCRIBES" and r.get("spdxElementId") == "SPDXRef-DOCUMENT":
            described.append(r.get("relatedSpdxElement"))
    described += doc.get("documentDescribes", [])
    if not described:
        err("document: describes nothing (no DESCRIBES relationship from SPDXRef-DOCUMENT)")
    if n_packages is not None:
        contained = [p for p in pkgs if isinstance(p, dict) and p.get("SPDXID") not in described]
        if len(contained) != n_packages:
            err(f"document: lists {len(contained)} packages besides the image, expected {n_packages}")
    return errs


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    errs = check(doc, int(sys.argv[2]) if len(sys.argv) == 3 else None)
    schema = os.environ.get("SPDX_SCHEMA")
    if schema:
        import jsonschema
        with open(schema, encoding="utf-8") as f:
            v = jsonschema.Draft7Validator(json.load(f))
        errs += [f"schema: {e.json_path}: {e.message}" for e in v.iter_errors(doc)]
    for e in errs:
        print(f"{sys.argv[1]}: {e}")
    if not errs:
        print(f"{sys.argv[1]}: valid SPDX 2.3 ({len(doc.get('packages', []))} packages)")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
