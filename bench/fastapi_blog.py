"""The blog's "one published post by slug" read, written the FastAPI way
(FastAPI + uvicorn + SQLAlchemy), as the services Plaza replaces are.

`cargo xtask bench` runs it with uvicorn against the same SQLite file the
`blog` module writes (BLOG_DB), and measures it with the same load as the
module and the native handler.
"""

import json
import os

from fastapi import FastAPI, HTTPException
from sqlalchemy import create_engine, text

engine = create_engine(f"sqlite:///{os.environ['BLOG_DB']}", pool_size=8, connect_args={"check_same_thread": False})
app = FastAPI()

POST = text(
    "SELECT id, title, slug, content_markdown, content_html, excerpt, status, published_at, "
    "meta_description, faq, author_id, created_at, updated_at FROM posts WHERE slug = :slug AND status = 'published'"
)
TAGS = text("SELECT tag FROM post_tags WHERE post_id = :id ORDER BY tag")


@app.get("/t/{tenant}/blog/posts/{slug}")
def read_post(tenant: str, slug: str):
    with engine.connect() as conn:
        row = conn.execute(POST, {"slug": slug}).mappings().first()
        if row is None:
            raise HTTPException(status_code=404, detail=f"no published post {slug!r}")
        tags = [t for (t,) in conn.execute(TAGS, {"id": row["id"]})]
    post = dict(row)
    faq = json.loads(post["faq"] or "[]")
    post["faq"] = faq
    post["json_ld"] = (
        {
            "@context": "https://schema.org",
            "@type": "FAQPage",
            "mainEntity": [
                {"@type": "Question", "name": q["question"], "acceptedAnswer": {"@type": "Answer", "text": q["answer"]}}
                for q in faq
            ],
        }
        if faq
        else None
    )
    post["tags"] = tags
    post["url"] = f"/t/{tenant}/blog/posts/{post['slug']}"
    return post
