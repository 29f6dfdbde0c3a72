import reference from "virtual:api-reference";
import { useLocation, setQuery } from "../router";
import { Page } from "../ui";

// Every service and message, from the protos' own comments (read at build time).
export default function Reference() {
  const { query } = useLocation();
  const filter = (query.get("q") ?? "").toLowerCase();
  const files = reference
    .map((file) => ({
      ...file,
      services: file.services.filter((s) => !filter || s.name.toLowerCase().includes(filter) || s.methods.some((m) => m.name.toLowerCase().includes(filter))),
      messages: file.messages.filter((m) => !filter || m.name.toLowerCase().includes(filter)),
    }))
    .filter((file) => file.services.length + file.messages.length > 0);
  return (
    <Page
      title="API reference"
      actions={
        <label>
          Find
          <input type="search" value={filter} onChange={(e) => setQuery({ q: e.target.value })} />
        </label>
      }
    >
      {files.map((file) => (
        <article key={file.file} className="reference">
          <h2>
            {file.package} <span className="muted">{file.file}</span>
          </h2>
          {file.services.map((service) => (
            <section key={service.name} id={`${file.package}.${service.name}`}>
              <h3>{service.name}</h3>
              <p>{service.comment}</p>
              <dl>
                {service.methods.map((method) => (
                  <div key={method.name}>
                    <dt>
                      <code>
                        {method.name}({method.input}) → {method.output}
                      </code>
                    </dt>
                    <dd>{method.comment}</dd>
                  </div>
                ))}
              </dl>
            </section>
          ))}
          {file.messages.map((message) => (
            <details key={message.name} id={`${file.package}.${message.name}`}>
              <summary>
                {message.kind} <code>{message.name}</code>
              </summary>
              {message.comment && <p>{message.comment}</p>}
              <ul>
                {message.fields.map((field) => (
                  <li key={field.name}>
                    <code>
                      {field.type} {field.name}
                    </code>
                    {field.comment && ` ${field.comment}`}
                  </li>
                ))}
              </ul>
            </details>
          ))}
        </article>
      ))}
    </Page>
  );
}
