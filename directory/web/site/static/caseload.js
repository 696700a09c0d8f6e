/* Your caseload: a SPOC's CSV or XLSX client list, answered in the browser (issue 18 §5).
 *
 * Loaded by app.js only when a reader chooses a file (with fflate, window.fflate, for an
 * XLSX). Only the postcode column is read; only its postcodes (trimmed, upper-cased, spaces
 * collapsed, each sent once) go to POST /api/v1/patch/lookup, in batches of up to 1,000, at
 * most two in flight. Nothing is stored: the answered file is made here, from the file's own
 * bytes, every original row and column as it was, with six columns added to each row.
 * Exposes window.DirectoryCaseload(page), page being app.js's DOM helpers. */
(function () {
  "use strict";

  var API = "/api/v1";
  var BATCH = 1000;
  var IN_FLIGHT = 2;
  var TOP = 3;
  var ADDED = ["Ward", "Borough", "BCU", "Services", "Top services", "Problem"];
  var NO_POSTCODE = "No postcode";
  var XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  var MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
  var REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
  var XML_NS = "http://www.w3.org/XML/1998/namespace";
  var XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';

  /* A header names the postcode column when, letters only and lower-cased, it is postcode,
   * postalcode, pcode or ends in postcode ("Client postcode", "Post code", "POSTAL_CODE"). */
  function isPostcodeHeader(text) {
    var name = String(text || "").toLowerCase().replace(/[^a-z]/g, "");
    return name === "postalcode" || name === "pcode" || /postcode$/.test(name);
  }

  /* What is sent: trimmed, upper-cased, runs of spaces as one; the API judges validity. */
  function normalise(value) {
    return String(value === null || value === undefined ? "" : value).replace(/\s+/g, " ").trim().toUpperCase();
  }

  /* A cell this page adds starting with = + - @ (or a tab or return) is written with a
   * leading apostrophe, so a spreadsheet reads it as text, never as a formula. */
  function neutralise(text) {
    text = String(text);
    return /^[=+\-@\t\r]/.test(text) ? "'" + text : text;
  }

  function stem(name) { return name.replace(/\.[^.]*$/, ""); }

  /* ---------- CSV ---------- */

  /* RFC 4180 records with their exact source text: quoted fields (embedded delimiters,
   * line breaks and doubled quotes), CRLF, LF or CR line ends, a byte-order mark. Each record
   * keeps start/end offsets (its line end excluded) so the file is written back as it came. */
  function parseCsv(text, delimiter) {
    var records = [], i = text.charCodeAt(0) === 0xfeff ? 1 : 0, n = text.length;
    while (i < n) {
      var start = i, fields = [], field = "", quoted = false, inQuotes = false, atFieldStart = true;
      for (; i < n; i++) {
        var c = text[i];
        if (inQuotes) {
          if (c === '"') {
            if (text[i + 1] === '"') { field += '"'; i++; } else inQuotes = false;
          } else field += c;
        } else if (c === '"' && atFieldStart) {
          inQuotes = quoted = true; atFieldStart = false;
        } else if (c === delimiter) {
          fields.push(field); field = ""; quoted = false; atFieldStart = true;
        } else if (c === "\r" || c === "\n") {
          break;
        } else {
          field += c; atFieldStart = false;
        }
      }
      fields.push(field);
      var end = i, eol = "";
      if (text[i] === "\r" && text[i + 1] === "\n") eol = "\r\n";
      else if (i < n) eol = text[i];
      i += eol.length;
      records.push({ start: start, end: end, eol: eol, fields: fields, empty: end === start && !quoted });
    }
    return records;
  }

  /* The delimiter of the header line: the most frequent of , ; and tab outside quotes. */
  function sniffDelimiter(text) {
    var counts = { ",": 0, ";": 0, "\t": 0 }, inQuotes = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (c === '"') inQuotes = !inQuotes;
      else if (!inQuotes && (c === "\n" || c === "\r")) break;
      else if (!inQuotes && counts.hasOwnProperty(c)) counts[c]++;
    }
    return Object.keys(counts).reduce(function (best, d) { return counts[d] > counts[best] ? d : best; }, ",");
  }

  function csvCell(value, delimiter) {
    var text = neutralise(value);
    return text.indexOf(delimiter) >= 0 || /["\r\n]/.test(text) || /^\s|\s$/.test(text)
      ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function decode(buffer) {
    try {
      return { text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(buffer), encoding: "UTF-8" };
    } catch (e) {
      return { text: new TextDecoder("windows-1252").decode(buffer), encoding: "Windows-1252" };
    }
  }

  function openCsv(file, buffer) {
    var decoded = decode(buffer), text = decoded.text;
    var delimiter = sniffDelimiter(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    var records = parseCsv(text, delimiter);
    if (!records.length) throw new Error("The file is empty.");
    var header = records[0], width = header.fields.length;
    var rows = records.slice(1).filter(function (r) { return !r.empty; });
    return {
      kind: "CSV",
      encoding: decoded.encoding,
      headers: header.fields,
      rows: rows.length,
      column: function (index) { return rows.map(function (r) { return r.fields[index]; }); },
      write: function (added) {
        var parts = [], row = 0;
        if (decoded.encoding !== "UTF-8") parts.push("\ufeff");  // re-encoded as UTF-8: say so to spreadsheets
        records.forEach(function (r, k) {
          var cells = k === 0 ? ADDED : (r.empty ? null : added[row++]);
          parts.push(text.slice(k === 0 ? 0 : r.start, r.end));  // the header with its byte-order mark
          if (cells) {
            parts.push(new Array(Math.max(0, width - r.fields.length) + 1).join(delimiter));
            cells.forEach(function (v) { parts.push(delimiter + csvCell(v, delimiter)); });
          }
          parts.push(r.eol);
        });
        return new Blob(parts, { type: "text/csv;charset=utf-8" });
      },
      name: stem(file.name) + " with patches.csv"
    };
  }

  /* ---------- XLSX (the first worksheet, changed in place) ---------- */

  function xml(bytes) {
    var doc = new DOMParser().parseFromString(new TextDecoder("utf-8").decode(bytes), "application/xml");
    if (doc.getElementsByTagName("parsererror").length) throw new Error("The workbook's XML could not be read.");
    return doc;
  }
  function kids(node, name) {
    return Array.prototype.filter.call(node.childNodes, function (c) { return c.nodeType === 1 && c.localName === name; });
  }
  function partPath(target) {
    if (target.charAt(0) === "/") return target.slice(1);
    var parts = ("xl/" + target).split("/"), out = [];
    parts.forEach(function (p) { if (p === "..") out.pop(); else if (p !== "." && p !== "") out.push(p); });
    return out.join("/");
  }
  /* A shared string's or inline string's text: its runs, without phonetic (rPh) runs. */
  function stringText(node) {
    var text = "";
    Array.prototype.forEach.call(node.getElementsByTagNameNS(MAIN_NS, "t"), function (t) {
      if (t.parentNode.localName !== "rPh") text += t.textContent;
    });
    return text;
  }
  function columnIndex(ref) {
    var letters = /^[A-Z]+/.exec(ref || "");
    if (!letters) return -1;
    var n = 0;
    for (var i = 0; i < letters[0].length; i++) n = n * 26 + letters[0].charCodeAt(i) - 64;
    return n - 1;
  }
  function columnName(index) {
    var name = "";
    for (var n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + (n - 1) % 26) + name;
    return name;
  }

  function openXlsx(file, buffer) {
    var files;
    try { files = window.fflate.unzipSync(new Uint8Array(buffer)); } catch (e) { throw new Error("This is not an XLSX workbook (it could not be unzipped)."); }
    if (!files["xl/workbook.xml"] || !files["xl/_rels/workbook.xml.rels"]) throw new Error("This is not an XLSX workbook (it has no xl/workbook.xml).");
    var workbook = xml(files["xl/workbook.xml"]);
    var rels = xml(files["xl/_rels/workbook.xml.rels"]).getElementsByTagName("Relationship");
    var first = workbook.getElementsByTagNameNS(MAIN_NS, "sheet")[0];
    if (!first) throw new Error("The workbook has no worksheet.");
    var rid = first.getAttributeNS(REL_NS, "id"), sheetPath = null, sharedPath = null;
    Array.prototype.forEach.call(rels, function (rel) {
      if (rel.getAttribute("Id") === rid) sheetPath = partPath(rel.getAttribute("Target"));
      if (/\/sharedStrings$/.test(rel.getAttribute("Type") || "")) sharedPath = partPath(rel.getAttribute("Target"));
    });
    if (!sheetPath || !files[sheetPath]) throw new Error("The workbook's first sheet could not be found.");
    var shared = sharedPath && files[sharedPath]
      ? kids(xml(files[sharedPath]).documentElement, "si").map(stringText) : [];
    var doc = xml(files[sheetPath]);
    var sheetData = doc.getElementsByTagNameNS(MAIN_NS, "sheetData")[0];
    var lastColumn = -1, lastRow = 0, rowNumber = 0;
    // every row as { node, number, cells: { column: cell } }, column numbers read from r= or counted
    var rows = kids(sheetData, "row").map(function (node) {
      rowNumber = node.getAttribute("r") ? parseInt(node.getAttribute("r"), 10) : rowNumber + 1;
      var cells = {}, col = -1, filled = false;
      kids(node, "c").forEach(function (c) {
        col = c.getAttribute("r") ? columnIndex(c.getAttribute("r")) : col + 1;
        cells[col] = c;
        lastColumn = Math.max(lastColumn, col);
        // a formula saved without its result holds data too (refused if it is a postcode)
        if (kids(c, "v").length || kids(c, "is").length || kids(c, "f").length) filled = true;
      });
      lastRow = Math.max(lastRow, rowNumber);
      return { node: node, number: rowNumber, cells: cells, filled: filled };
    }).filter(function (r) { return r.filled; });  // a row of styles only is no record
    if (!rows.length) throw new Error("The first sheet is empty.");

    function value(cell) {
      if (!cell) return "";
      var type = cell.getAttribute("t"), v = kids(cell, "v")[0];
      if (type === "inlineStr") return kids(cell, "is").length ? stringText(kids(cell, "is")[0]) : "";
      if (!v) return "";
      return type === "s" ? (shared[parseInt(v.textContent, 10)] || "") : v.textContent;
    }
    var header = rows[0], data = rows.slice(1), headers = [];
    for (var k = 0; k <= lastColumn; k++) headers.push(value(header.cells[k]));

    function addCell(row, col, content) {
      var c = doc.createElementNS(MAIN_NS, "c");
      c.setAttribute("r", columnName(col) + row.number);
      if (typeof content === "number") {
        append(c, "v", String(content));
      } else {
        c.setAttribute("t", "inlineStr");
        var t = doc.createElementNS(MAIN_NS, "t");
        t.setAttributeNS(XML_NS, "xml:space", "preserve");
        t.textContent = content;
        c.appendChild(doc.createElementNS(MAIN_NS, "is")).appendChild(t);
      }
      row.node.appendChild(c);
    }
    function append(parent, name, text) { parent.appendChild(doc.createElementNS(MAIN_NS, name)).textContent = text; }

    return {
      kind: "XLSX",
      headers: headers,
      rows: data.length,
      column: function (index) {
        // a formula saved without its result (written by a program that does not work
        // formulas out) would read as an empty cell: its row's postcode silently lost
        var unworked = data.filter(function (r) {
          var c = r.cells[index], type = c && c.getAttribute("t"), v = c && kids(c, "v")[0];
          return c && kids(c, "f").length && (!type || type === "n") && !(v && /\S/.test(v.textContent));
        }).map(function (r) { return columnName(index) + r.number; });
        if (unworked.length) {
          throw new Error("Cell " + unworked.slice(0, 5).join(", ") +
            (unworked.length > 5 ? " and " + (unworked.length - 5) + " more" : "") +
            " of the postcode column hold formulas with no saved result (the program that " +
            "wrote the file did not work them out), so their postcodes cannot be read. Open " +
            "the file in Excel or LibreOffice and save it, or paste the values over the formulas.");
        }
        return data.map(function (r) { return value(r.cells[index]); });
      },
      write: function (added) {
        var from = lastColumn + 1, to = lastColumn + ADDED.length;
        ADDED.forEach(function (name, i) { addCell(header, from + i, name); });
        data.forEach(function (row, r) {
          added[r].forEach(function (content, i) { if (content !== "") addCell(row, from + i, content); });
        });
        rows.forEach(function (row) {
          var spans = row.node.getAttribute("spans");
          if (spans) row.node.setAttribute("spans", spans.split(":")[0] + ":" + Math.max(parseInt(spans.split(":")[1], 10) || 0, to + 1));
        });
        var dimension = doc.getElementsByTagNameNS(MAIN_NS, "dimension")[0];
        if (dimension) dimension.setAttribute("ref", (dimension.getAttribute("ref") || "A1").split(":")[0] + ":" + columnName(to) + lastRow);
        files[sheetPath] = new TextEncoder().encode(XML_DECLARATION + new XMLSerializer().serializeToString(doc));
        return new Blob([window.fflate.zipSync(files, { level: 6 })], { type: XLSX_TYPE });
      },
      name: stem(file.name) + " with patches.xlsx"
    };
  }

  /* ---------- the lookup ---------- */

  function LookupError(status, body) {
    this.status = status;
    this.body = body || {};
    this.message = (body && (body.detail || body.title)) || ("The server answered " + status + ".");
  }

  function lookup(postcodes) {
    return fetch(API + "/patch/lookup", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ postcodes: postcodes, detail: "full", per_page: TOP })
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (data) {
        if (!res.ok) throw new LookupError(res.status, data);
        return data;
      });
    }, function () {
      throw new LookupError(0, { title: "No connection", detail: "The directory could not be reached. Check your connection and try again." });
    });
  }

  /* Every distinct postcode answered: batches of BATCH, IN_FLIGHT at a time; progress(done). */
  function lookupAll(postcodes, progress) {
    var answers = {}, next = 0, done = 0, failed = false;
    function worker() {
      if (failed || next >= postcodes.length) return Promise.resolve();
      var batch = postcodes.slice(next, next + BATCH);
      next += batch.length;
      return lookup(batch).then(function (body) {
        body.results.forEach(function (item, i) { answers[batch[i]] = item; });
        done += batch.length;
        progress(done);
        return worker();
      }, function (error) {
        failed = true;  // the other worker stops after its batch
        throw error;
      });
    }
    var workers = [];
    for (var w = 0; w < IN_FLIGHT; w++) workers.push(worker());
    return Promise.all(workers).then(function () { return answers; });
  }

  /* The six added cells of a row: ward, borough, BCU, services, top services, problem. */
  function addedCells(item) {
    if (!item) return ["", "", "", "", "", NO_POSTCODE];
    if (item.problem) return ["", "", "", "", "", item.problem.title || "Not found"];
    var p = item.result;
    var bcu = p.bcu ? p.bcu.name : (p.police_force ? "None (" + p.police_force.name + ")" : "");
    return [p.ward ? p.ward.name : "", p.borough ? p.borough.name : "", bcu, p.counts.services,
      (p.services || []).slice(0, TOP).map(function (s) { return s.name; }).join("; "), ""];
  }

  /* ---------- the page ---------- */

  window.DirectoryCaseload = function (page) {
    var el = page.el, whole = page.whole;
    var section = document.getElementById("caseload");
    function $(id) { return document.getElementById(id); }
    function say(text) { $("caseload-status").textContent = text; }
    function showProblem(title, detail) {
      var box = page.clear($("caseload-problem"));
      page.append(box, el("p", { class: "problem-title", text: title }), el("p", { class: "problem-detail", text: detail }));
      box.hidden = false;
      say("");
    }
    var current = null, link = null, runs = 0;

    function reset() {
      $("caseload-problem").hidden = true;
      $("caseload-results").hidden = true;
      $("caseload-pick").hidden = true;
      page.clear($("caseload-download"));
      page.clear($("caseload-summary"));
      if (link) { URL.revokeObjectURL(link); link = null; }
      section.removeAttribute("data-state");
    }

    function open(file) {
      var mine = ++runs;  // an answer still on its way for an earlier file is dropped
      reset();
      current = null;
      if (!/\.(csv|xlsx)$/i.test(file.name)) {
        showProblem("Not a CSV or XLSX file", file.name + " is neither: save the list as CSV or as an Excel workbook (.xlsx) and choose it again.");
        return Promise.resolve();
      }
      say("Reading " + file.name + "…");
      return file.arrayBuffer().then(function (buffer) {
        if (mine !== runs) return;
        var table = /\.xlsx$/i.test(file.name) ? openXlsx(file, buffer) : openCsv(file, buffer);
        current = table;
        var matches = [];
        table.headers.forEach(function (h, i) { if (isPostcodeHeader(h)) matches.push(i); });
        if (matches.length === 1) return run(table, matches[0]);
        pick(table, matches[0]);
        say(matches.length
          ? "Several columns are named like a postcode: choose the one to look up."
          : "No column is named Postcode: choose the column that holds the postcodes.");
      }).catch(function (error) {
        showProblem("This file could not be read", error.message || String(error));
      });
    }

    /* The list of the table's columns to choose from, ``chosen`` selected. */
    function pick(table, chosen) {
      var select = page.clear($("caseload-column"));
      table.headers.forEach(function (h, i) {
        page.append(select, el("option", { value: i, text: columnName(i) + ": " + (String(h).trim() || "(no name)"), selected: i === chosen }));
      });
      $("caseload-pick").hidden = false;
      select.focus();
    }

    function run(table, index) {
      $("caseload-pick").hidden = true;
      var started = Date.now(), ticket = ++runs, values;
      try {
        values = table.column(index).map(normalise);
      } catch (error) {
        showProblem("This column could not be read", error.message || String(error));
        pick(table, index);  // another column may be the one
        return Promise.resolve();
      }
      var distinct = [], seen = {};
      values.forEach(function (v) { if (v && !seen.hasOwnProperty(v)) { seen[v] = true; distinct.push(v); } });
      section.setAttribute("data-state", "busy");
      say("Looking up " + whole.format(distinct.length) + " postcodes from " + whole.format(table.rows) + " rows…");
      return lookupAll(distinct, function (done) {
        if (ticket === runs) say("Looking up postcodes: " + whole.format(done) + " of " + whole.format(distinct.length) + " answered…");
      }).then(function (answers) {
        if (ticket !== runs) return;
        var added = values.map(function (v) { return addedCells(v ? answers[v] : null); });
        var blob = table.write(added);
        link = URL.createObjectURL(blob);
        var summary = summarise(values, answers, added);
        page.append($("caseload-download"), el("a", { id: "caseload-link", href: link, download: table.name,
          text: "Download " + table.name + " (" + table.kind + ", every row and column as it was, with " + ADDED.length + " columns added)" }));
        renderSummary(summary);
        $("caseload-results").hidden = false;
        section.setAttribute("data-state", "ready");
        section.setAttribute("data-ms", Date.now() - started);
        say("Done: " + page.plural(table.rows, "row", "rows") + ", " + whole.format(summary.found) + " in " +
          page.plural(summary.wards.length, "ward", "wards") + ", " + whole.format(table.rows - summary.found) + " with a problem." +
          (table.encoding && table.encoding !== "UTF-8" ? " The file was read as " + table.encoding + " and is written back as UTF-8." : ""));
      }).catch(function (error) {
        if (ticket !== runs) return;
        section.setAttribute("data-state", "failed");
        showProblem((error.body && error.body.title) || "The postcodes could not be looked up", error.message || String(error));
      });
    }

    function summarise(values, answers, added) {
      var wards = {}, problems = {}, found = 0;
      values.forEach(function (v, i) {
        var item = v ? answers[v] : null;
        if (!item || !item.result) {
          var why = added[i][ADDED.length - 1];
          problems[why] = (problems[why] || 0) + 1;
          return;
        }
        found++;
        var p = item.result, key = p.ward ? p.ward.code : "borough:" + p.borough.code;
        var w = wards[key] || (wards[key] = { ward: p.ward ? p.ward.name : "(no ward)", borough: p.borough.name, rows: 0, min: Infinity, max: 0 });
        w.rows++;
        w.min = Math.min(w.min, p.counts.services);
        w.max = Math.max(w.max, p.counts.services);
      });
      var list = Object.keys(wards).map(function (k) { return wards[k]; }).sort(function (a, b) {
        return b.rows - a.rows || a.ward.localeCompare(b.ward) || a.borough.localeCompare(b.borough);
      });
      return { found: found, wards: list, problems: problems };
    }

    function renderSummary(summary) {
      var body = $("caseload-summary");
      page.append(body, el("h3", { id: "caseload-wards", text: "Your caseload by ward" }),
        el("p", { class: "note", text: "Services: the number that serve a row's postcode (a range when the rows of a ward differ, as delivery sites nearby do)." }),
        page.scrollTable(["Ward", "Borough", "Rows", "Services"], summary.wards.map(function (w) {
          return [w.ward, w.borough, { text: whole.format(w.rows), numeric: true, value: w.rows },
            { text: w.min === w.max ? whole.format(w.max) : whole.format(w.min) + "–" + whole.format(w.max), numeric: true }];
        }), "Rows found, by ward (" + whole.format(summary.found) + " rows)", "caseload-wards"));
      var reasons = Object.keys(summary.problems).sort();
      if (reasons.length) {
        page.append(body, page.scrollTable(["Problem", "Rows"], reasons.map(function (r) {
          return [r, { text: whole.format(summary.problems[r]), numeric: true, value: summary.problems[r] }];
        }), "Rows not found, and why", "caseload-problems"));
      }
    }

    $("caseload-form").addEventListener("submit", function (event) {
      event.preventDefault();
      if (current) run(current, parseInt($("caseload-column").value, 10));
    });
    return { open: open };
  };
})();
