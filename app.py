"""ttc-lab: can more inference compute on a small model replace a larger one, and where does that stop working?

Run with `make app` (or `streamlit run app.py`). Every page reads the shipped cache under cache/."""
import streamlit as st

from backend.explore import own_store, page_drawn, warm_up
from backend.store import Store
from pages._common import finish_page

st.set_page_config(page_title="ttc-lab · test-time compute", page_icon=":material/calculate:", layout="wide")

# URL paths are the file names (Streamlit's default), so a shared link that is a new server's first request finds
# its page even in Streamlit's legacy pages/ mode, instead of a "page not found" dialog
PAGES = {
    "The question": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/story.py", title="The story", icon=":material/auto_stories:"),
        st.Page("pages/budget_curves.py", title="Budget curves", icon=":material/show_chart:"),
        st.Page("pages/small_vs_large.py", title="Small vs large", icon=":material/balance:"),
        st.Page("pages/spread.py", title="Spread", icon=":material/scatter_plot:"),
        st.Page("pages/adaptive.py", title="Adaptive compute", icon=":material/tune:"),
        st.Page("pages/reasoning.py", title="Reasoning vs not", icon=":material/psychology:"),
        st.Page("pages/other_levers.py", title="Other levers", icon=":material/alt_route:"),
    ],
    "Look closer": [
        st.Page("pages/traces.py", title="Traces", icon=":material/search:"),
        st.Page("pages/playground.py", title="Playground", icon=":material/play_arrow:"),
        st.Page("pages/real_models.py", title="Real models", icon=":material/public:"),
    ],
    "Reference": [
        st.Page("pages/claims.py", title="Claims", icon=":material/fact_check:"),
        st.Page("pages/zoo_cache.py", title="Zoo & cache", icon=":material/inventory_2:"),
    ],
}


@st.cache_resource(show_spinner=False)
def _own_the_cache() -> bool:
    """This server process owns the cache store — one, opened on first use, shared by every session — and warms it
    up in the background (the store and the derived points; the Playground's model once a first page is drawn)."""
    own_store(Store)
    warm_up()
    return True


_own_the_cache()
st.navigation(PAGES).run()
finish_page()  # what this page's run found about the cache (derived data not saved, a damaged batch), said once
page_drawn()  # now the Playground's model may warm up without slowing the first page
