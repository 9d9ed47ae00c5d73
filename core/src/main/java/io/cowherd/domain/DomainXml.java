package io.cowherd.domain;

import io.cowherd.CowException;
import io.cowherd.CowIOException;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerException;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;
import org.xml.sax.ErrorHandler;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;
import org.xml.sax.SAXParseException;

/**
 * A libvirt domain XML document and the rewrite steps that turn a copy of it into a clone, the
 * way {@code virt-clone} does. Pure: no libvirt, no pool, no files except {@link #read(Path)}.
 *
 * <p>Parsing is hardened against untrusted input: a {@code DOCTYPE} is refused outright (so no
 * external entity, no entity expansion bomb, no external DTD), secure processing is on, XInclude
 * is off and entity references are not expanded. Serialization uses a secure-processing
 * {@link Transformer}.
 *
 * <p>Not thread-safe; {@link #copy()} gives an independent document.
 */
public final class DomainXml {
    /** The {@code <channel>} target name of the QEMU guest agent. */
    public static final String GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0";

    private final Document doc;

    private DomainXml(Document doc) {
        this.doc = doc;
        if (!"domain".equals(root().getTagName())) {
            throw new CowException("not a libvirt domain XML: the root element is <" + root().getTagName()
                    + ">, expected <domain>");
        }
    }

    /**
     * Parses a domain XML document.
     *
     * @throws CowException if it is not well-formed, contains a DOCTYPE or is not a {@code <domain>}
     */
    public static DomainXml parse(String xml) {
        if (xml == null || xml.isBlank()) {
            throw new CowException("domain XML is empty");
        }
        try {
            DocumentBuilder builder = secureBuilderFactory().newDocumentBuilder();
            builder.setErrorHandler(THROWING);
            builder.setEntityResolver((publicId, systemId) -> {
                throw new SAXException("external entity '" + systemId + "' refused");
            });
            return new DomainXml(builder.parse(new InputSource(new StringReader(xml))));
        } catch (SAXParseException e) {
            throw new CowException("domain XML rejected at line " + e.getLineNumber() + ", column "
                    + e.getColumnNumber() + ": " + e.getMessage()
                    + (isDoctype(e) ? " (DOCTYPE and entities are not allowed in domain XML)" : ""), e);
        } catch (SAXException e) {
            throw new CowException("domain XML rejected: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new CowException("reading domain XML failed: " + e, e);
        } catch (ParserConfigurationException e) {
            throw new IllegalStateException("the XML parser cannot be configured securely", e);
        }
    }

    /** Reads and parses a domain XML file (UTF-8). */
    public static DomainXml read(Path file) {
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading domain XML", e);
        }
    }

    /**
     * The parser factory used for every domain XML: DOCTYPE refused, secure processing, no
     * external DTDs, schemas or entities, no XInclude, no entity reference expansion.
     */
    static DocumentBuilderFactory secureBuilderFactory() throws ParserConfigurationException {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        f.setFeature("http://xml.org/sax/features/external-general-entities", false);
        f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
        f.setXIncludeAware(false);
        f.setExpandEntityReferences(false);
        f.setNamespaceAware(true);
        f.setValidating(false);
        return f;
    }

    private static boolean isDoctype(SAXParseException e) {
        return String.valueOf(e.getMessage()).toUpperCase(Locale.ROOT).contains("DOCTYPE");
    }

    private static final ErrorHandler THROWING = new ErrorHandler() {
        @Override
        public void warning(SAXParseException e) {
            // not an error; nothing to report
        }

        @Override
        public void error(SAXParseException e) throws SAXException {
            throw e;
        }

        @Override
        public void fatalError(SAXParseException e) throws SAXException {
            throw e;
        }
    };

    /** An independent deep copy of this document. */
    public DomainXml copy() {
        return new DomainXml((Document) doc.cloneNode(true));
    }

    /** The underlying DOM document (live: changes show in {@link #toXml()}). */
    public Document document() {
        return doc;
    }

    /** Serializes the document (no XML declaration), with a secure-processing transformer. */
    public String toXml() {
        try {
            TransformerFactory tf = TransformerFactory.newInstance();
            tf.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
            tf.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
            tf.setAttribute(XMLConstants.ACCESS_EXTERNAL_STYLESHEET, "");
            Transformer t = tf.newTransformer();
            t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
            t.setOutputProperty(OutputKeys.METHOD, "xml");
            t.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
            StringWriter out = new StringWriter();
            t.transform(new DOMSource(doc), new StreamResult(out));
            String s = out.toString();
            return s.endsWith("\n") ? s : s + "\n";
        } catch (TransformerException e) {
            throw new CowException("serializing domain XML failed: " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return toXml();
    }

    // ---------------------------------------------------------------- reading

    /** The domain's {@code <name>}. */
    public String name() {
        return child(root(), "name").map(e -> e.getTextContent().trim())
                .orElseThrow(() -> new CowException("domain XML has no <name>"));
    }

    /** The {@code type} attribute of {@code <domain>} ({@code kvm}, {@code qemu}, {@code xen}, ...), or "". */
    public String domainType() {
        return root().getAttribute("type");
    }

    /** The domain's {@code <uuid>}, if it states one. */
    public Optional<String> uuid() {
        return child(root(), "uuid").map(e -> e.getTextContent().trim());
    }

    /** The SMBIOS system UUID ({@code <sysinfo type='smbios'><system><entry name='uuid'>}), if any. */
    public Optional<String> smbiosUuid() {
        List<Element> entries = smbiosUuidEntries();
        return entries.isEmpty() ? Optional.empty() : Optional.of(entries.get(0).getTextContent().trim());
    }

    /** The {@code <title>}, if any. */
    public Optional<String> title() {
        return child(root(), "title").map(Element::getTextContent);
    }

    /** The {@code id} attribute of {@code <domain>} (running domains only), if any. */
    public Optional<String> id() {
        return root().hasAttribute("id") ? Optional.of(root().getAttribute("id")) : Optional.empty();
    }

    /** The MAC address of every {@code <interface>} that states one, lower case, in document order. */
    public List<String> macAddresses() {
        List<String> macs = new ArrayList<>();
        for (Element iface : devices("interface")) {
            child(iface, "mac").map(m -> m.getAttribute("address").toLowerCase(Locale.ROOT))
                    .filter(s -> !s.isEmpty()).ifPresent(macs::add);
        }
        return macs;
    }

    /** The {@code <target dev>} of every {@code <interface>} that has one. */
    public List<String> interfaceTargets() {
        List<String> out = new ArrayList<>();
        for (Element iface : devices("interface")) {
            child(iface, "target").map(t -> t.getAttribute("dev")).filter(s -> !s.isEmpty()).ifPresent(out::add);
        }
        return out;
    }

    /** Every {@code <disk>}, in document order. */
    public List<DomainDisk> disks() {
        List<DomainDisk> out = new ArrayList<>();
        for (Element disk : devices("disk")) {
            out.add(toDisk(disk));
        }
        return out;
    }

    private static DomainDisk toDisk(Element disk) {
        String type = attrOr(disk, "type", "file");
        String device = attrOr(disk, "device", "disk");
        String target = child(disk, "target").map(t -> t.getAttribute("dev")).orElse("");
        String driverType = child(disk, "driver").map(d -> d.getAttribute("type")).filter(s -> !s.isEmpty())
                .orElse(null);
        String source = child(disk, "source").map(s -> {
            if ("block".equals(type)) {
                return s.getAttribute("dev");
            }
            return s.hasAttribute("file") ? s.getAttribute("file") : s.getAttribute("dev");
        }).filter(s -> !s.isEmpty()).orElse(null);
        return new DomainDisk(target, device, type, driverType, source, child(disk, "readonly").isPresent(),
                child(disk, "shareable").isPresent(), child(disk, "transient").isPresent());
    }

    /**
     * The NVRAM file ({@code <os><nvram>path</nvram>}, or its {@code <source file>} in the newer
     * form), if the domain names one.
     */
    public Optional<String> nvramPath() {
        return nvram().flatMap(n -> {
            Optional<Element> src = child(n, "source");
            if (src.isPresent()) {
                String f = src.get().getAttribute("file");
                return f.isEmpty() ? Optional.empty() : Optional.of(f);
            }
            String text = n.getTextContent().trim();
            return text.isEmpty() ? Optional.empty() : Optional.of(text);
        });
    }

    /** The {@code template} attribute of {@code <nvram>}, if any. */
    public Optional<String> nvramTemplate() {
        return nvram().map(n -> n.getAttribute("template")).filter(s -> !s.isEmpty());
    }

    /** The {@code <source path>} (or {@code <log file>}) of every file-type serial and console. */
    public List<String> serialFiles() {
        List<String> out = new ArrayList<>();
        for (Element chr : serialsAndConsoles()) {
            if ("file".equals(chr.getAttribute("type"))) {
                child(chr, "source").map(s -> s.getAttribute("path")).filter(s -> !s.isEmpty()).ifPresent(out::add);
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- rewriting

    /** Sets {@code <name>}. */
    public void setName(String name) {
        Element n = child(root(), "name").orElseGet(() -> insertFirst(root(), "name"));
        n.setTextContent(name);
    }

    /**
     * Sets {@code <uuid>} (adding it when missing) and the SMBIOS system UUID entry when the
     * domain has one, so the guest sees the same UUID as libvirt.
     */
    public void setUuid(UUID uuid) {
        Element u = child(root(), "uuid").orElseGet(() -> insertAfter(root(), "uuid", "name"));
        u.setTextContent(uuid.toString());
        for (Element e : smbiosUuidEntries()) {
            e.setTextContent(uuid.toString());
        }
    }

    /** Removes the {@code id} attribute of {@code <domain>} and the {@code <title>}. */
    public void clearIdAndTitle() {
        root().removeAttribute("id");
        child(root(), "title").ifPresent(DomainXml::remove);
    }

    /**
     * Gives every {@code <interface>} a new MAC address from {@code macs} (adding {@code <mac>}
     * where the interface had none).
     *
     * @return the new addresses, in document order
     */
    public List<String> replaceMacAddresses(Supplier<String> macs) {
        List<String> out = new ArrayList<>();
        for (Element iface : devices("interface")) {
            Element mac = child(iface, "mac").orElseGet(() -> insertFirst(iface, "mac"));
            String address = macs.get();
            mac.setAttribute("address", address);
            out.add(address);
        }
        return out;
    }

    /**
     * Drops {@code <target dev>} from every {@code <interface>}: the host-side tap name belongs
     * to the source domain; libvirt picks a new one.
     *
     * @return how many were dropped
     */
    public int dropInterfaceTargets() {
        int n = 0;
        for (Element iface : devices("interface")) {
            for (Element t : children(iface, "target")) {
                remove(t);
                n++;
            }
        }
        return n;
    }

    /**
     * Turns every graphics device with a fixed port into an automatically allocated one:
     * {@code port} and {@code tlsPort} are removed, a fixed {@code websocket} port becomes
     * {@code -1} (allocated automatically, so the feature stays), and {@code autoport='yes'}.
     *
     * @return how many graphics devices were changed
     */
    public int makeGraphicsAutoport() {
        int n = 0;
        for (Element g : devices("graphics")) {
            boolean fixed = "no".equals(g.getAttribute("autoport")) || isFixedPort(g, "port")
                    || isFixedPort(g, "tlsPort") || isFixedPort(g, "websocket");
            if (!fixed) {
                continue;
            }
            g.removeAttribute("port");
            g.removeAttribute("tlsPort");
            if (g.hasAttribute("websocket")) {
                g.setAttribute("websocket", "-1");
            }
            g.setAttribute("autoport", "yes");
            n++;
        }
        return n;
    }

    private static boolean isFixedPort(Element g, String attr) {
        String v = g.getAttribute(attr).trim();
        return !v.isEmpty() && !"-1".equals(v) && !"0".equals(v);
    }

    /**
     * Drops the socket path of the guest agent channel (and, as virt-clone does, of any UNIX
     * channel whose path contains its target name), so libvirt generates a path per domain
     * instead of two domains fighting over one socket.
     *
     * @return how many paths were dropped
     */
    public int dropAgentSocketPaths() {
        int n = 0;
        for (Element ch : devices("channel")) {
            if (!"unix".equals(ch.getAttribute("type"))) {
                continue;
            }
            String targetName = child(ch, "target").map(t -> t.getAttribute("name")).orElse("");
            for (Element src : children(ch, "source")) {
                String path = src.getAttribute("path");
                if (path.isEmpty()) {
                    continue;
                }
                if (GUEST_AGENT_CHANNEL.equals(targetName) || (!targetName.isEmpty() && path.contains(targetName))) {
                    src.removeAttribute("path");
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * Renames the files of file-type serial ports and consoles (their {@code <source path>} and
     * {@code <log file>}) so they carry the new domain's name, see {@link #clonePath}.
     *
     * @return how many paths were renamed
     */
    public int renameSerialFiles(String oldName, String newName) {
        int n = 0;
        for (Element chr : serialsAndConsoles()) {
            if ("file".equals(chr.getAttribute("type"))) {
                for (Element src : children(chr, "source")) {
                    if (!src.getAttribute("path").isEmpty()) {
                        src.setAttribute("path", clonePath(src.getAttribute("path"), oldName, newName));
                        n++;
                    }
                }
            }
            for (Element log : children(chr, "log")) {
                if (!log.getAttribute("file").isEmpty()) {
                    log.setAttribute("file", clonePath(log.getAttribute("file"), oldName, newName));
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * The path an auxiliary file of a clone gets, derived from the source domain's: in the same
     * directory, with the extension kept (when it has at most 7 characters, as virt-clone
     * decides), and with the old name replaced by the new one in the file name, or the new name
     * appended ({@code console.log} becomes {@code console-web-01.log}) when the old name does
     * not appear. Unlike virt-clone's {@code -clone} suffix this stays unique across many clones.
     */
    public static String clonePath(String path, String oldName, String newName) {
        int slash = path.lastIndexOf('/');
        String dir = path.substring(0, slash + 1);
        String base = path.substring(slash + 1);
        String ext = "";
        int dot = base.lastIndexOf('.');
        if (dot > 0 && base.length() - dot - 1 <= 7) {
            ext = base.substring(dot);
            base = base.substring(0, dot);
        }
        if (oldName != null && !oldName.isEmpty() && base.contains(oldName)) {
            base = base.replace(oldName, newName);
        } else {
            base = base + "-" + newName;
        }
        return dir + base + ext;
    }

    /**
     * Points {@code <os><nvram>} at {@code path}, keeping its attributes ({@code template},
     * {@code format}, ...).
     *
     * @throws CowException if the domain has no {@code <nvram>}
     */
    public void setNvramPath(String path) {
        Element n = nvram().orElseThrow(() -> new CowException("domain XML has no <os><nvram> to rewrite"));
        Optional<Element> src = child(n, "source");
        if (src.isPresent()) {
            src.get().setAttribute("file", path);
        } else {
            n.setTextContent(path);
        }
    }

    /**
     * Delivers identity through SMBIOS: {@code <os><smbios mode='sysinfo'/>} and, in
     * {@code <sysinfo type='smbios'>}, the system serial {@code serial} (when not null) and one
     * type 11 string {@code io.systemd.credential:NAME=VALUE} per credential (replacing the
     * source's string for the same credential; its other strings stay).
     */
    public void setSmbiosIdentity(String serial, Map<String, String> credentials) {
        Element os = child(root(), "os").orElseGet(() -> insertAfterOrFirst(root(), "os", "vcpu"));
        Element smbios = child(os, "smbios").orElseGet(() -> insertAfterOrFirst(os, "smbios", "type"));
        smbios.setAttribute("mode", "sysinfo");
        Element sysinfo = children(root(), "sysinfo").stream().filter(e -> "smbios".equals(e.getAttribute("type")))
                .findFirst().orElseGet(() -> {
                    Element e = insertAfter(root(), "sysinfo", "os");
                    e.setAttribute("type", "smbios");
                    return e;
                });
        if (serial != null) {
            Element system = child(sysinfo, "system").orElseGet(() -> insertFirst(sysinfo, "system"));
            Element entry = children(system, "entry").stream().filter(e -> "serial".equals(e.getAttribute("name")))
                    .findFirst().orElseGet(() -> {
                        Element e = doc.createElement("entry");
                        e.setAttribute("name", "serial");
                        system.appendChild(e);
                        return e;
                    });
            entry.setTextContent(serial);
        }
        if (!credentials.isEmpty()) {
            Element oem = child(sysinfo, "oemStrings").orElseGet(() -> {
                Element e = doc.createElement("oemStrings");
                sysinfo.appendChild(e);
                return e;
            });
            for (Element e : children(oem, "entry")) {
                String text = e.getTextContent();
                if (credentials.keySet().stream().anyMatch(n -> text.startsWith(SYSTEMD_CREDENTIAL + n + "="))) {
                    remove(e);
                }
            }
            credentials.forEach((name, value) -> {
                Element e = doc.createElement("entry");
                e.setTextContent(SYSTEMD_CREDENTIAL + name + "=" + value);
                oem.appendChild(e);
            });
        }
    }

    /** The SMBIOS type 11 strings ({@code <sysinfo type='smbios'><oemStrings><entry>}), in order. */
    public List<String> oemStrings() {
        List<String> out = new ArrayList<>();
        for (Element sysinfo : children(root(), "sysinfo")) {
            if ("smbios".equals(sysinfo.getAttribute("type"))) {
                for (Element oem : children(sysinfo, "oemStrings")) {
                    children(oem, "entry").forEach(e -> out.add(e.getTextContent()));
                }
            }
        }
        return out;
    }

    /** The guest's kind, {@code <os><type>} ({@code hvm}, {@code xen}, {@code linux}, {@code exe}), if stated. */
    public Optional<String> osType() {
        return child(root(), "os").flatMap(os -> child(os, "type")).map(e -> e.getTextContent().trim());
    }

    /** The SMBIOS system serial, if the domain states one. */
    public Optional<String> smbiosSerial() {
        for (Element sysinfo : children(root(), "sysinfo")) {
            if ("smbios".equals(sysinfo.getAttribute("type"))) {
                for (Element system : children(sysinfo, "system")) {
                    for (Element e : children(system, "entry")) {
                        if ("serial".equals(e.getAttribute("name"))) {
                            return Optional.of(e.getTextContent().trim());
                        }
                    }
                }
            }
        }
        return Optional.empty();
    }

    /** Where a type 11 string carries a systemd credential (systemd.system-credentials(7)). */
    static final String SYSTEMD_CREDENTIAL = "io.systemd.credential:";

    /**
     * Keeps emulated TPMs from sharing state: drops every {@code <source>} (the state directory
     * or file) of a {@code <tpm><backend type='emulator'>}, so libvirt makes fresh state for the
     * new domain's UUID. An emulated TPM's keys must never be shared between machines.
     *
     * @return how many emulated TPMs the domain has (each now gets fresh state)
     */
    public int dropTpmState() {
        int n = 0;
        for (Element tpm : devices("tpm")) {
            for (Element backend : children(tpm, "backend")) {
                if (!"emulator".equals(backend.getAttribute("type"))) {
                    continue;
                }
                for (Element src : children(backend, "source")) {
                    remove(src);
                }
                n++;
            }
        }
        return n;
    }

    /**
     * Points the disk whose {@code <target dev>} is {@code targetDev} at a clone volume: its
     * type becomes {@code file} with {@code <source file>}, or {@code block} with
     * {@code <source dev>}; {@code <driver type>} becomes {@code format}; any
     * {@code <backingStore>} is removed (libvirt reads the chain from the image itself).
     *
     * @throws CowException if there is no such disk
     */
    public void replaceDiskSource(String targetDev, String path, String format, boolean volumeIsFile) {
        Element disk = diskElement(targetDev);
        disk.setAttribute("type", volumeIsFile ? "file" : "block");
        Element src = child(disk, "source").orElseGet(() -> insertAfterOrFirst(disk, "source", "driver"));
        for (String attr : List.of("file", "dev", "dir", "index", "name", "protocol", "pool", "volume", "mode")) {
            src.removeAttribute(attr);
        }
        if (!volumeIsFile) {
            src.removeAttribute("startupPolicy");
        }
        src.setAttribute(volumeIsFile ? "file" : "dev", path);
        Element driver = child(disk, "driver").orElseGet(() -> insertFirst(disk, "driver"));
        driver.setAttribute("type", format);
        for (Element b : children(disk, "backingStore")) {
            remove(b);
        }
    }

    /**
     * Adds a read-only raw virtio disk with {@code image}, on the first {@code vdX} target no
     * disk uses, and returns that target.
     */
    public String addReadOnlyDisk(Path image) {
        java.util.Set<String> used = new java.util.HashSet<>();
        for (DomainDisk d : disks()) {
            used.add(d.targetDev());
        }
        String dev = null;
        for (char c = 'b'; c <= 'z' && dev == null; c++) {
            if (!used.contains("vd" + c)) {
                dev = "vd" + c;
            }
        }
        if (dev == null) {
            throw new CowException("domain '" + name() + "' uses every virtio disk name vdb..vdz; no room for a seed disk");
        }
        Element devices = child(root(), "devices").orElseGet(() -> {
            Element d = doc.createElement("devices");
            root().appendChild(d);
            return d;
        });
        Element disk = doc.createElement("disk");
        disk.setAttribute("type", "file");
        disk.setAttribute("device", "disk");
        Element driver = doc.createElement("driver");
        driver.setAttribute("name", "qemu");
        driver.setAttribute("type", "raw");
        Element source = doc.createElement("source");
        source.setAttribute("file", image.toString());
        Element target = doc.createElement("target");
        target.setAttribute("dev", dev);
        target.setAttribute("bus", "virtio");
        disk.appendChild(driver);
        disk.appendChild(source);
        disk.appendChild(target);
        disk.appendChild(doc.createElement("readonly"));
        List<Element> disks = devices("disk");
        if (disks.isEmpty()) {
            devices.insertBefore(disk, devices.getFirstChild());
        } else {
            devices.insertBefore(disk, disks.get(disks.size() - 1).getNextSibling());
        }
        return dev;
    }

    /**
     * The {@code <target dev>} of every disk whose image backs directly onto the NBD export
     * {@code export} served on the Unix socket {@code socket}: its first {@code <backingStore>} is
     * {@code type='network'} with {@code <source protocol='nbd' name=EXPORT>} and
     * {@code <host transport='unix' socket=SOCKET>}. A running domain's XML states its whole
     * chain; a defined one only what its definition gave.
     */
    public List<String> disksBackedByNbd(java.nio.file.Path socket, String export) {
        List<String> out = new ArrayList<>();
        for (Element disk : devices("disk")) {
            Optional<Element> b = child(disk, "backingStore");
            Optional<Element> src = b.flatMap(e -> child(e, "source"));
            boolean match = b.isPresent() && "network".equals(b.get().getAttribute("type")) && src.isPresent()
                    && "nbd".equals(src.get().getAttribute("protocol")) && export.equals(src.get().getAttribute("name"))
                    && child(src.get(), "host").filter(h -> "unix".equals(h.getAttribute("transport"))
                            && socket.toString().equals(h.getAttribute("socket"))).isPresent();
            if (match) {
                child(disk, "target").map(t -> t.getAttribute("dev")).filter(d -> !d.isEmpty()).ifPresent(out::add);
            }
        }
        return out;
    }

    /** Sets {@code <driver name>} of the disk whose {@code <target dev>} is {@code targetDev}. */
    public void setDiskDriverName(String targetDev, String driverName) {
        Element disk = diskElement(targetDev);
        Element driver = child(disk, "driver").orElseGet(() -> insertFirst(disk, "driver"));
        driver.setAttribute("name", driverName);
    }

    private Element diskElement(String targetDev) {
        for (Element disk : devices("disk")) {
            if (child(disk, "target").map(t -> t.getAttribute("dev")).orElse("").equals(targetDev)) {
                return disk;
            }
        }
        throw new CowException("domain XML has no <disk> with <target dev='" + targetDev + "'>");
    }

    // ---------------------------------------------------------------- DOM helpers

    private Element root() {
        return doc.getDocumentElement();
    }

    private Optional<Element> nvram() {
        return child(root(), "os").flatMap(os -> child(os, "nvram"));
    }

    private List<Element> smbiosUuidEntries() {
        List<Element> out = new ArrayList<>();
        for (Element sysinfo : children(root(), "sysinfo")) {
            if (!"smbios".equals(sysinfo.getAttribute("type"))) {
                continue;
            }
            for (Element system : children(sysinfo, "system")) {
                for (Element entry : children(system, "entry")) {
                    if ("uuid".equals(entry.getAttribute("name"))) {
                        out.add(entry);
                    }
                }
            }
        }
        return out;
    }

    private List<Element> devices(String tag) {
        return child(root(), "devices").map(d -> children(d, tag)).orElse(List.of());
    }

    private List<Element> serialsAndConsoles() {
        List<Element> out = new ArrayList<>(devices("serial"));
        out.addAll(devices("console"));
        return out;
    }

    private static Optional<Element> child(Element parent, String tag) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && tag.equals(e.getTagName())) {
                return Optional.of(e);
            }
        }
        return Optional.empty();
    }

    private static List<Element> children(Element parent, String tag) {
        List<Element> out = new ArrayList<>();
        NodeList list = parent.getChildNodes();
        for (int i = 0; i < list.getLength(); i++) {
            if (list.item(i) instanceof Element e && tag.equals(e.getTagName())) {
                out.add(e);
            }
        }
        return out;
    }

    private static String attrOr(Element e, String attr, String fallback) {
        String v = e.getAttribute(attr);
        return v.isEmpty() ? fallback : v;
    }

    /** Removes {@code e} and the whitespace that indented it, so no blank line is left behind. */
    private static void remove(Element e) {
        Node parent = e.getParentNode();
        Node prev = e.getPreviousSibling();
        if (prev != null && prev.getNodeType() == Node.TEXT_NODE && prev.getTextContent().isBlank()) {
            parent.removeChild(prev);
        }
        parent.removeChild(e);
        // If only indentation is left inside the parent, drop it too: <backend/> rather than an empty line.
        boolean onlyBlank = parent.getFirstChild() != null;
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeType() != Node.TEXT_NODE || !n.getTextContent().isBlank()) {
                onlyBlank = false;
                break;
            }
        }
        if (onlyBlank) {
            while (parent.getFirstChild() != null) {
                parent.removeChild(parent.getFirstChild());
            }
        }
    }

    private Element insertFirst(Element parent, String tag) {
        Element e = doc.createElement(tag);
        Node first = parent.getFirstChild();
        // Keep the indentation of the first child for the new element.
        if (first != null && first.getNodeType() == Node.TEXT_NODE && first.getTextContent().isBlank()) {
            parent.insertBefore(e, first.getNextSibling());
            parent.insertBefore(doc.createTextNode(first.getTextContent()), e.getNextSibling());
        } else {
            parent.insertBefore(e, first);
        }
        return e;
    }

    private Element insertAfter(Element parent, String tag, String afterTag) {
        Optional<Element> after = child(parent, afterTag);
        if (after.isEmpty()) {
            return insertFirst(parent, tag);
        }
        Element e = doc.createElement(tag);
        Node prev = after.get().getPreviousSibling();
        Node next = after.get().getNextSibling();
        if (prev != null && prev.getNodeType() == Node.TEXT_NODE && prev.getTextContent().isBlank()) {
            parent.insertBefore(doc.createTextNode(prev.getTextContent()), next);
        }
        parent.insertBefore(e, next);
        return e;
    }

    private Element insertAfterOrFirst(Element parent, String tag, String afterTag) {
        return child(parent, afterTag).isPresent() ? insertAfter(parent, tag, afterTag) : insertFirst(parent, tag);
    }
}
