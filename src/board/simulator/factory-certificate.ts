/**
 * The simulated BMC's certificate and key, fixed and public on purpose, the way the real factory
 * certificate is (docs/turing-pi-2.md, "Certificate"): self-signed, CN "Turing-Pi self signed",
 * valid only from 1970-01-01 to 1970-01-31, so every check of its dates fails and only pinning
 * by fingerprint trusts it. Fixed so that config/demo-tpi2.yaml can pin its fingerprint, as a
 * user pins their board's. It only ever serves loopback: never use this key for anything else.
 */

/** SHA-256 of the certificate's DER, as `turingpi-mqtt bmc trust` prints it. */
export const SIMULATOR_FACTORY_FINGERPRINT =
  'C1:95:8E:86:E1:FB:63:A0:AD:A6:A0:F3:08:04:73:4A:5B:6E:A6:57:F3:8A:30:BC:F0:47:D7:2C:6C:AE:9D:D7';

export const SIMULATOR_FACTORY_CERT = `-----BEGIN CERTIFICATE-----
MIIC0zCCAbugAwIBAgIJb7WOr7pa5ynMMA0GCSqGSIb3DQEBCwUAMCAxHjAcBgNV
BAMTFVR1cmluZy1QaSBzZWxmIHNpZ25lZDAeFw03MDAxMDEwMDAxMTRaFw03MDAx
MzEwMDAxMTRaMCAxHjAcBgNVBAMTFVR1cmluZy1QaSBzZWxmIHNpZ25lZDCCASIw
DQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAItPNsx5XfAV6ocUx+WCz1rqgoGJ
87Gyr7fFt+TZ5nbbPkP6h4gOy98AmLRAsflBWH/xT5+RZwjSgEmAJy1VlxM6xgKV
38T55HpGgtfq7kjK/Z9kQKmSN0nhzLMC44JvYWCEjQOArLDUf1cpc+niSUIysKD4
OKJZvu7Z8DZ951y+snuqrMg+Yd+wMh7mE27Y8BE63L/Q3M8Et5lz+LlGab0SYbzs
9fNNlbO2mIQiV9XH3gBlVheQxBULbYPkihUIeCRrIVKut8Dc09DcYqJGlDzc1/1a
kdymcM4WTAQ+VuvXW/UztH+8gcpNciZS1YZ7/gk7XwyKvncWqDt1YQ8ENMMCAwEA
AaMQMA4wDAYDVR0TBAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAg5uMjAUJJXuf
jrIuekNJPq9BT3Ds0SThLxNfITE/ge3q6Knzy00m7fJk2ZlkH9tmuksMSPITImtl
XRiLzZnTo3/6jOWM+yF5xTPxdNfO5xSng+cf/BRtQINAs3r0FsPPdmDwCF1V+iIp
xDQ1QZK0u6TOIOIQLg5kX1KmQdjjnwMFmEZ/9dG91jZ+fhOzRr8T0H/+KAdL24HQ
YPltgIMVfXKj8IlBgF8k5Ay4ScDUwyOUuvCzZ2Bcu7ZPFmreGLyX+84g7ifnN7iN
5BfJHaWGdqTI9pZEN0oDrwUsEaM8JS/JOnoB6JH2L8o95d3zMPbdrtgzBUDi5Qwb
jv7/M9h0RQ==
-----END CERTIFICATE-----
`;

export const SIMULATOR_FACTORY_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCLTzbMeV3wFeqH
FMflgs9a6oKBifOxsq+3xbfk2eZ22z5D+oeIDsvfAJi0QLH5QVh/8U+fkWcI0oBJ
gCctVZcTOsYCld/E+eR6RoLX6u5Iyv2fZECpkjdJ4cyzAuOCb2FghI0DgKyw1H9X
KXPp4klCMrCg+DiiWb7u2fA2fedcvrJ7qqzIPmHfsDIe5hNu2PAROty/0NzPBLeZ
c/i5Rmm9EmG87PXzTZWztpiEIlfVx94AZVYXkMQVC22D5IoVCHgkayFSrrfA3NPQ
3GKiRpQ83Nf9WpHcpnDOFkwEPlbr11v1M7R/vIHKTXImUtWGe/4JO18Mir53Fqg7
dWEPBDTDAgMBAAECggEAKZNnkFi8X1W7G7to+Sc0CTcp4c0xDJx+csMwYb1iWaCP
EayoXEPGNnSwHkOcmf4VkoGLON0lOe3Q2Z7EknQT1WpaBBWEpf3KYW+/xv7XRKRI
UxSRc8ouc/9OnzJCggAJuMt2ZlA1ucSBiJrXfDrLkFUef7v08wcDw7cJSMoEjZnv
SlVHX81X5suGqSDrpPWGuPLYo7JxPsnQHWkEtoCJDu4EzDy2ayoHKONxsvjW0hYq
tfZZPBZOUMEG7sggTWuiFk3mZVB0c/OAU2y57VXY4LDn2kkcuZfVE4o0ipmDn4GV
/ZeqCMG3I18prRZjQxe3pxjETG7NvDdfn4rPUbPFSQKBgQDE9hyggNMjVvGIVRsg
ym20cRyWc0UyqIkNNnehrhTfCHaDYcSRn9VCTd6pN5TZuQq/ZJ/eXm1c83LQNQY9
4kWQB/kMtkS+VYyfDzvYVr4Q3H74+cq7JHHk0GoaMMtYCcfoPXD3Xi38v2kJ8N0V
TMr+WFtquusRSeflhaLSVp7dtQKBgQC1ESnfIqTFxuJFd/fiS9HkGINMP0kmLMcm
GOOt8ftLmWjkXEN9ZHCqKcxUoCR/oaqxhsASlPROBslE2D7dQItkKmynFS84/DfE
GoznF6qDvGHlM8s4uxqH8RCLPJ2LNKjozl6GNK60uSMJEIKPX1WhbeHBY3L2royK
43GV+k8TlwKBgGxM98i5jV9tOzo/sb8CD/icCaAgmfgU++cr//QDCK7qtF/hrnh0
bosazkg1q79cJDDBX7aiLXhi1MrvnRMCDEX6XFNFFd+iosQDWGDIsZIL7DVzBKqK
i6XJg84K7oTmO+nTfv5F5vuHNHam3qoLo8LfSsURKphDDyQBq1oFDy3RAoGAY7Oy
wbp6zqjH+YaoyUQErDvPOJH0fn/TnSfBXwvK2wL7Xhtr0kUXQKvJZqPT1S+5JQ3U
/6Zjq/9SnoUQgJZE6v/tWkdw/EjtkB8qjSlb7DQ0F5hgg7mLT2WvPWxAN+HkTGUu
aWni9YKoRxp/OeE97qjp0aooKKtOmj/JUNNG7bsCgYBdHMsSZDFJIaftF75dLd7+
eIqeyn3oh9WJ5p9Vlx7p9lQL5GvTYU2cKkpPA2LUB9vHyg9tu7gvUG1uljASlODp
HopwuAgx2l0+SFwSap+YfvPblt6um8d1TaGQzF/9OLW6HnqZ+aaLbFWeH5FxSFLE
qm83mJ58Sjeuqxw1PJExUg==
-----END PRIVATE KEY-----
`;
