"""A loopback The Factory HKA: a real HTTP server on 127.0.0.1 that speaks HKA's SOAP 1.1 web service.

It parses every `Enviar` and `EstadoDocumento` request, keeps what it received (`enviar`, `queries`, `calls`),
and answers as the test sets `mode`:

* `authorize`: a CUFE built with `tui_pos.domain.fiscal.cufe` from the fields received (and the issuer the
  tokens stand for, as HKA knows it), with a security code of its own, as HKA draws one; a QR URL; a
  protocol number. A second `Enviar` for a number already authorized answers DUPLICATE_CODE, and
  `EstadoDocumento` answers the first authorization.
* `reject`: `reject_code` and `reject_message`.
* `hang`: answers nothing for `delay` seconds (past the client's timeout), then closes.
* `error500`: HTTP 500 with a SOAP fault, as WCF answers an exception.
* `garbage`: HTTP 200 with a body that is not XML.
* `lose`: authorizes and keeps the authorization, then answers 500: the answer is lost on the way.

Usable as a context manager (`with HkaServer(issuer) as server:`) or as the `hka_server` fixture.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

import pytest

from tui_pos.domain import fiscal

# The codes this loopback answers. 200 is HKA's success (S1 and its examples); HKA's code for a number
# already sent is not public (docs/fiscal.md): the adapter does not depend on it.
SUCCESS = "200"
DUPLICATE_CODE = "102"
DUPLICATE_MESSAGE = "El documento ya fue procesado anteriormente."
NOT_FOUND_CODE = "120"
NOT_FOUND_MESSAGE = "No se encuentra información del documento en BD."
REPEATED = {"item", "formaPago", "docFiscalReferenciado"}
KINDS = {code: kind for kind, code in fiscal.DOC_TYPES.items()}
EMISSIONS = {code: emission for emission, code in fiscal.EMISSION_TYPES.items()}

DEMO_ISSUER = fiscal.Issuer(ruc="155596713-2-2015", dv="59", ruc_type=2, name="Tienda de Prueba, S.A.",
                            branch="0000", point=1, address="Calle 50, Ciudad de Panamá", environment=2)


def tree(element: ET.Element) -> Any:
    """An element as plain data: its text when it has no children, else a dict by local name (the tags in
    REPEATED as lists)."""
    children = list(element)
    if not children:
        return element.text or ""
    data: dict[str, Any] = {}
    for child in children:
        name = local(child.tag)
        value = tree(child)
        if name in REPEATED:
            data.setdefault(name, []).append(value)
        else:
            data[name] = value
    return data


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


class HkaServer:
    def __init__(self, issuer: fiscal.Issuer = DEMO_ISSUER) -> None:
        self.issuer = issuer            # the company the tokens stand for
        self.mode = "authorize"
        self.delay = 2.0
        self.reject_code = "109"
        self.reject_message = "El campo totalITBMS no coincide con la suma de valorITBMS."
        self.enviar: list[dict[str, Any]] = []     # every Enviar: {"tokens": (...), "documento": {...}}
        self.queries: list[dict[str, Any]] = []    # every EstadoDocumento's datosDocumento
        self.calls: list[dict[str, str]] = []      # operation, SOAPAction, the ser: namespace, content type
        self.authorized: dict[tuple[str, str, str, str], dict[str, str]] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = outer.answer(body, self.headers.get("SOAPAction", ""),
                                              self.headers.get("Content-Type", ""))
                if status == 0:
                    return
                payload = answer.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/xml; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/ws/obj/v1.0/Service.svc"

    # --- life -------------------------------------------------------------------------------------------

    def start(self) -> HkaServer:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> HkaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sent(self, number: int) -> int:
        """How many Enviar requests carried this document number."""
        return sum(1 for r in self.enviar
                   if int(r["documento"]["datosTransaccion"]["numeroDocumentoFiscal"]) == number)

    # --- the protocol -----------------------------------------------------------------------------------

    def answer(self, body: bytes, action: str, content_type: str) -> tuple[int, str]:
        """(HTTP status, body); status 0: answer nothing."""
        if self.mode == "hang":
            time.sleep(self.delay)
            return 0, ""
        if self.mode == "error500":
            return 500, fault("Object reference not set to an instance of an object.")
        if self.mode == "garbage":
            return 200, "<html><body>502 Bad Gateway, or so</body>"
        try:
            operation = ET.fromstring(body).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
        except (ET.ParseError, TypeError, IndexError):
            return 400, fault("The request is not a SOAP envelope.")
        name = local(operation.tag)
        fields = tree(operation)
        ser = next((namespace(e.tag) for e in operation.iter() if namespace(e.tag) not in ("", "http://tempuri.org/")),
                   "")
        with self._lock:
            self.calls.append({"operation": name, "action": action, "ser": ser, "content_type": content_type})
            if name == "Enviar":
                return self._enviar(fields)
            if name == "EstadoDocumento":
                return self._estado(fields["datosDocumento"])
        return 500, fault(f"The operation {name} is not known.")

    def _enviar(self, fields: dict[str, Any]) -> tuple[int, str]:
        document = fields["documento"]
        self.enviar.append({"tokens": (fields["tokenEmpresa"], fields["tokenPassword"]), "documento": document})
        data = document["datosTransaccion"]
        key = (document["codigoSucursalEmisor"], data["puntoFacturacionFiscal"], data["tipoDocumento"],
               data["numeroDocumentoFiscal"].zfill(10))
        if key in self.authorized:
            return 200, result("Enviar", codigo=DUPLICATE_CODE, resultado="error", mensaje=DUPLICATE_MESSAGE)
        if self.mode == "reject":
            return 200, result("Enviar", codigo=self.reject_code, resultado="error", mensaje=self.reject_message)
        authorization = self._authorize(document)
        self.authorized[key] = authorization
        if self.mode == "lose":
            return 500, fault("The connection was reset on the way back.")
        return 200, result("Enviar", codigo=SUCCESS, resultado="procesado",
                           mensaje="El documento se envió correctamente.", cufe=authorization["cufe"],
                           qr=authorization["qr"], fechaRecepcionDGI=authorization["received"],
                           nroProtocoloAutorizacion=authorization["protocol"])

    def _authorize(self, document: dict[str, Any]) -> dict[str, str]:
        """The CUFE HKA would give: the document's identity as received, the issuer the tokens stand for, and
        a security code drawn here (not the client's)."""
        data = document["datosTransaccion"]
        issued_at = datetime.fromisoformat(data["fechaEmision"])
        count = len(self.authorized) + 1
        issuer = fiscal.Issuer(ruc=self.issuer.ruc, dv=self.issuer.dv, ruc_type=self.issuer.ruc_type,
                               name=self.issuer.name, branch=document["codigoSucursalEmisor"],
                               point=int(data["puntoFacturacionFiscal"]), address=self.issuer.address,
                               environment=self.issuer.environment)
        references = data.get("listaDocsFiscalReferenciados", {}).get("docFiscalReferenciado", [{}])
        doc = fiscal.FiscalDocument(
            kind=KINDS[data["tipoDocumento"]], number=int(data["numeroDocumentoFiscal"]), issued_at=issued_at,
            security_code=f"{900_000_000 + count:09d}", lines=(), payments=(),
            emission=EMISSIONS[data["tipoEmision"]],
            contingency_started_at=(datetime.fromisoformat(data["fechaInicioContingencia"])
                                    if "fechaInicioContingencia" in data else None),
            contingency_reason=data.get("motivoContingencia", ""),
            reference_cufe=references[0].get("cufeFEReferenciada", ""),
            reference_issued_at=(datetime.fromisoformat(references[0]["fechaEmisionDocFiscalReferenciado"])
                                 if "fechaEmisionDocFiscalReferenciado" in references[0] else None))
        cufe = fiscal.cufe(doc, issuer)
        return {"cufe": cufe, "qr": fiscal.qr_url(cufe, issuer.environment, f"digest{count}", f"jwt{count}"),
                "protocol": f"{issued_at.year}{count:016d}",
                "received": datetime.now(UTC).isoformat(timespec="seconds"),
                "issued": data["fechaEmision"]}

    def _estado(self, data: dict[str, str]) -> tuple[int, str]:
        self.queries.append(data)
        key = (data["codigoSucursalEmisor"], data["puntoFacturacionFiscal"], data["tipoDocumento"],
               data["numeroDocumentoFiscal"].zfill(10))
        found = self.authorized.get(key)
        if found is None:
            return 200, result("EstadoDocumento", codigo=NOT_FOUND_CODE, mensaje=NOT_FOUND_MESSAGE, resultado="error")
        return 200, result("EstadoDocumento", codigo=SUCCESS, mensaje="Se retornan datos del documento.",
                           cufe=found["cufe"], fechaEmisionDocumento=found["issued"],
                           fechaRecepcionDocumento=found["received"], estatusDocumento="Autorizada",
                           mensajeDocumento="Autorizado el uso de la FE", resultado="procesado")


def result(operation: str, **fields: str) -> str:
    """A WCF answer as HKA's examples show it: the result's fields in the Services.Response namespace."""
    inner = "".join(f"<a:{name}>{escape(value)}</a:{name}>" for name, value in fields.items())
    return ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            f'<{operation}Response xmlns="http://tempuri.org/">'
            f'<{operation}Result xmlns:a="http://schemas.datacontract.org/2004/07/Services.Response" '
            f'xmlns:i="http://www.w3.org/2001/XMLSchema-instance">{inner}</{operation}Result>'
            f'</{operation}Response></s:Body></s:Envelope>')


def fault(text: str) -> str:
    return ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
            f'<faultcode>a:InternalServiceFault</faultcode><faultstring>{escape(text)}</faultstring>'
            '</s:Fault></s:Body></s:Envelope>')


@pytest.fixture
def hka_server():
    with HkaServer() as server:
        yield server
