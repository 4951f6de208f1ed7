// Starts GraphiQL on the page that GET /graphql shows in development (see __init__.py).
"use strict";

const EXAMPLE = `# Ctrl-Enter runs the query; Ctrl-Space completes.
query FirstUsers {
  users(limit: 3) {
    id
    name
    posts {
      title
    }
  }
}
`;

const root = ReactDOM.createRoot(document.getElementById("graphiql"));
root.render(
  React.createElement(GraphiQL, {
    fetcher: GraphiQL.createFetcher({ url: window.location.pathname }),
    defaultQuery: EXAMPLE,
    isHeadersEditorEnabled: true,
  }),
);
